"""Data-scarcity sizes: seeded, class-balanced, nested subsets of a binary task.

Filice et al. (arXiv 2601.21830) group training-set sizes into XS (< 500), S (500-2,499),
M (2,500-4,999) and L (>= 5,000). We use one fixed size per bin, so numbers are comparable across
datasets and runs stay bounded:

====  ======  ==========================
size  n       bin of the paper
====  ======  ==========================
XS    250     < 500
S     1,000   500 - 2,499
M     2,500   2,500 - 4,999
L     5,000   >= 5,000
====  ======  ==========================

A subset of size ``n`` holds ``n // 2`` positives and ``n - n // 2`` negatives when the dataset has
them (balanced). When a class is short, all of its records are taken and the other class fills the
subset up to ``n`` (recorded as ``balanced=False`` with the achieved positive fraction). A size is
skipped, with the reason recorded, when the dataset has fewer than ``n`` records in all, or fewer
than ``min_per_class`` records of either class (the stratified k-fold CV needs at least k of each).

Small datasets (:func:`fit_size`): a dataset with fewer records than a size's ``n`` but at least the
lower edge of that size's bin still belongs to the bin, so with ``fill_bins=True`` the size takes all
of its records (20 Georgia records are an XS dataset of n = 20). Sizes whose bin starts above the
dataset's record count are skipped. The achieved ``n`` is always recorded next to the size name.

The subsets are nested (XS within S within M within L): one seeded permutation of the positives and
one of the negatives, from which every size takes a prefix. Bigger sizes therefore only add data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIZES: dict[str, int] = {"XS": 250, "S": 1000, "M": 2500, "L": 5000}
SIZE_BINS: dict[str, tuple[int, float]] = {"XS": (1, 500), "S": (500, 2500), "M": (2500, 5000),
                                           "L": (5000, float("inf"))}


@dataclass(frozen=True)
class Subset:
    """A chosen subset: ``indices`` into the task's records (sorted), and what it holds."""

    size: str
    indices: np.ndarray
    n_pos: int
    n_neg: int

    @property
    def n(self) -> int:
        return self.n_pos + self.n_neg

    @property
    def balanced(self) -> bool:
        return abs(self.n_pos - self.n_neg) <= 1

    @property
    def pos_fraction(self) -> float:
        return self.n_pos / self.n


@dataclass(frozen=True)
class Skip:
    """A size the dataset cannot provide, and why."""

    size: str
    reason: str


def check_sizes(sizes: dict[str, int]) -> dict[str, int]:
    """Validate user sizes: positive integers; a named bin (XS/S/M/L) must lie in its range."""
    out = {}
    for name, n in sizes.items():
        if int(n) != n or n < 2:
            raise ValueError(f"size {name}: need an integer >= 2, got {n!r}")
        if name in SIZE_BINS:
            lo, hi = SIZE_BINS[name]
            if not lo <= n < hi:
                raise ValueError(f"size {name}={n} lies outside its bin [{lo}, {hi})")
        out[name] = int(n)
    return out


def balanced_subset(y: np.ndarray, n: int, seed: int, min_per_class: int = 2, size: str = "") -> Subset | Skip:
    """Indices of a (maximally) balanced subset of ``n`` records of the binary targets ``y``.

    Parameters
    ----------
    y : ndarray of shape (N,)
        Binary targets (1 = positive).
    n : int
        Subset size.
    seed : int
        Seed of the two permutations (same seed -> same, nested subsets for every ``n``).
    min_per_class : int
        Fewer records than this in either class of the subset -> :class:`Skip`.
    size : str
        Name stored in the result.
    """
    y = np.asarray(y).astype(bool).ravel()
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    name = size or str(n)
    if len(y) < n:
        return Skip(name, f"{len(y)} records < {n}")
    rng = np.random.default_rng(seed)
    pos, neg = rng.permutation(pos), rng.permutation(neg)
    n_pos = min(n // 2, len(pos))
    n_neg = n - n_pos
    if n_neg > len(neg):
        n_neg = len(neg)
        n_pos = n - n_neg
    if min(n_pos, n_neg) < min_per_class:
        return Skip(name, f"{len(pos)} positives / {len(neg)} negatives: fewer than {min_per_class} "
                          f"of a class in a subset of {n}")
    idx = np.sort(np.concatenate([pos[:n_pos], neg[:n_neg]]))
    return Subset(name, idx, int(n_pos), int(n_neg))


def scarcity_subsets(y: np.ndarray, sizes: dict[str, int] | None = None, seed: int = 0,
                     min_per_class: int = 15) -> dict[str, Subset | Skip]:
    """:func:`balanced_subset` for every size (default :data:`SIZES`), nested, in the given order."""
    sizes = check_sizes(SIZES if sizes is None else sizes)
    return {name: balanced_subset(y, n, seed, min_per_class, size=name) for name, n in sizes.items()}


def fit_size(size: str, n: int, n_records: int, fill_bins: bool = True) -> tuple[int | None, str]:
    """The subset size to use for ``size`` (nominal ``n``) on a dataset of ``n_records`` records.

    Returns
    -------
    n : int or None
        ``n`` when the dataset has enough records; ``n_records`` when it has fewer but still lies in
        the size's bin (and ``fill_bins``); None when the size cannot be filled.
    note : str
        Why ``n`` differs from the nominal size, or why the size is skipped ("" when it is as asked).

    Examples
    --------
    >>> fit_size("XS", 250, 20)
    (20, 'all 20 records (fewer than 250, still in the XS bin)')
    >>> fit_size("S", 1000, 300)
    (None, '300 records < 1000 (and below the S bin)')
    """
    if n_records >= n:
        return n, ""
    lo = SIZE_BINS.get(size, (None,))[0]
    if fill_bins and lo is not None and n_records >= lo:
        return n_records, f"all {n_records} records (fewer than {n}, still in the {size} bin)"
    if lo is not None:
        return None, f"{n_records} records < {n} (and below the {size} bin)"
    return None, f"{n_records} records < {n}"
