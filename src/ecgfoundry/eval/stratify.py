"""Multi-label stratified subsampling by iterative stratification.

Sechidis, Tsoumakas & Vlahavas (2011), "On the stratification of multi-label data", ECML PKDD.
Records are handed out label by label, rarest label first, each to the part whose remaining demand
for that label is largest, so that every part receives close to its share of every label, even
for labels with a handful of positives (which plain random subsampling often misses at 1 %).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def iterative_stratification(y, proportions: Sequence[float], rng) -> np.ndarray:
    """Assign each record to one of ``len(proportions)`` parts.

    Parameters
    ----------
    y : array (N, K), multi-hot
    proportions : sequence of float
        Desired share of each part (normalised to sum 1).
    rng : numpy.random.Generator or int seed
        Breaks ties (and orders the records of a label), so the split is reproducible.

    Returns
    -------
    ndarray (N,), int: the part of every record.
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    y = np.asarray(y).astype(bool)
    if y.ndim == 1:
        y = y[:, None]
    r = np.asarray(proportions, dtype=np.float64)
    if r.ndim != 1 or len(r) < 1 or np.any(r < 0) or r.sum() <= 0:
        raise ValueError(f"proportions must be non-negative with a positive sum, got {proportions}")
    r = r / r.sum()
    n, k = y.shape
    want_total = r * n  # (F,)
    want_label = r[:, None] * y.sum(axis=0)[None, :]  # (F, K)
    part = np.full(n, -1, dtype=int)
    remaining = y.sum(axis=0).astype(np.int64)
    jitter = rng.random((len(r),))  # fixed random tie-break order between parts

    def choose(label: int | None) -> int:
        if label is None:
            key = np.lexsort((jitter, want_total))
        else:
            key = np.lexsort((jitter, want_total, want_label[:, label]))
        return int(key[-1])

    while np.any(remaining > 0):
        active = np.flatnonzero(remaining > 0)
        fewest = active[remaining[active] == remaining[active].min()]
        label = int(rng.choice(fewest))
        members = np.flatnonzero(y[:, label] & (part < 0))
        for i in rng.permutation(members):
            j = choose(label)
            part[i] = j
            want_label[j] -= y[i]
            want_total[j] -= 1
            remaining -= y[i]
    for i in rng.permutation(np.flatnonzero(part < 0)):  # records without any label
        j = choose(None)
        part[i] = j
        want_total[j] -= 1
    return part


def stratified_subsample(y, fraction: float, seed: int = 0, min_positive: int = 1) -> np.ndarray:
    """Indices (sorted) of a multi-label stratified subsample holding ``fraction`` of the records.

    After stratification, every class that has positives in ``y`` but fewer than ``min_positive``
    in the subsample gets random positives of that class added (so a 1 % subset still sees every
    class where the data allows it); the subsample can therefore exceed ``fraction * N`` by at most
    ``K * min_positive`` records.

    Parameters
    ----------
    y : array (N, K) multi-hot, or (N,) class indices / binary labels
    fraction : float in (0, 1]
    seed : int
    min_positive : int
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    y = np.asarray(y)
    if y.ndim == 1:
        if np.issubdtype(y.dtype, np.integer) and y.max(initial=0) > 1:
            y = np.eye(int(y.max()) + 1, dtype=bool)[y]  # class indices -> one-hot
        else:
            y = y[:, None]
    y = y.astype(bool)
    n = len(y)
    if fraction >= 1:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    chosen = iterative_stratification(y, (fraction, 1 - fraction), rng) == 0
    for k in range(y.shape[1]):
        have = int((chosen & y[:, k]).sum())
        need = min(min_positive, int(y[:, k].sum())) - have
        if need > 0:
            pool = np.flatnonzero(y[:, k] & ~chosen)
            chosen[rng.choice(pool, size=need, replace=False)] = True
    return np.flatnonzero(chosen)
