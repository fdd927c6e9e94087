"""The missingness stress test: which leads and time spans are removed at test time.

Three kinds of masks, all reproducible from a seed:

``"lead"``
    Each of the 12 leads is dropped independently with probability ``p_lead`` (0.1); when all 12
    would go, one lead chosen at random is kept.
``"temporal"``
    Every lead loses one contiguous span of ``round(u * T)`` samples, ``u ~ U(0.05, 0.20)``, at a
    uniformly random position.
``"joint"``
    Both: leads are dropped as in ``"lead"`` and every kept lead loses one span.

**Rand.** masks are sampled (:func:`sample_masks`). **Hard** masks (:func:`hard_masks`): for each
record, ``C`` candidate masks with the *same budget* are drawn and the one with the largest impact on
a reference classifier ``F`` is kept. The budget of a record is its number of dropped leads and the
list of span lengths (:func:`sample_budgets`); candidates differ only in *which* leads are dropped and
*where* the spans lie (:func:`realise_masks`), so all candidates remove exactly the same number of
grid cells (the same severity). Impact is the CMRS impact ``I(x, m) = mean_k |F(x^m)_k - F(x)_k|``
(see :mod:`ecgfoundry.eval.cmrs`).

Budget-matched Rand. and Hard (what the stress test does, :func:`ecgfoundry.eval.stress.cell_masks`):
one budget per record is drawn once per (kind, seed); Rand. is one random placement of it, and Hard
is the highest-impact of ``C`` placements of the *same* budget, the Rand. placement among them
(``hard_masks(..., budget=b, first=rand)``). The two therefore remove exactly the same number of
cells from every record, and Hard's impact on F is never below Rand.'s, record by record.

A mask is a bool array ``(N, 12, T)`` of what to **remove** (True = remove). :func:`apply_mask` zeroes
those samples and marks them unobserved; samples that were already unobserved stay unobserved.
Severity ``S(m)`` is the fraction of the ``12 x T`` grid the mask removes (:func:`severity`).

Sampling of a budget and its realisation (lead choice, span positions) uses only
``Generator.random`` draws in record order, so results do not depend on batch sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgfoundry.eval.predict import ProbabilityFn
from ecgfoundry.signals.leads import LEADS

KINDS: tuple[str, ...] = ("lead", "temporal", "joint")
N_LEADS = len(LEADS)


@dataclass(frozen=True)
class MissingnessConfig:
    """Parameters of the protocol.

    Attributes
    ----------
    p_lead : float
        Probability that a lead is dropped (lead-only and joint).
    span : tuple of float
        Range of the span length as a fraction of the record (temporal-only and joint).
    """

    p_lead: float = 0.1
    span: tuple[float, float] = (0.05, 0.20)

    def __post_init__(self) -> None:
        if not 0 <= self.p_lead <= 1:
            raise ValueError(f"p_lead must be in [0, 1], got {self.p_lead}")
        lo, hi = self.span
        if not 0 <= lo <= hi <= 1:
            raise ValueError(f"span must satisfy 0 <= low <= high <= 1, got {self.span}")


@dataclass(frozen=True)
class MaskBudget:
    """How much each record loses; :func:`realise_masks` decides where.

    Attributes
    ----------
    n_drop : ndarray of shape (N,), int
        Leads dropped entirely (0 to 11).
    span_len : ndarray of shape (N, 12), int
        Span lengths in samples for the kept leads, in slot order (slot ``i`` goes to the ``i``-th
        kept lead of a random order); slots beyond ``12 - n_drop`` are ignored.
    n_samples : int
        T.
    """

    n_drop: np.ndarray
    span_len: np.ndarray
    n_samples: int

    def __len__(self) -> int:
        return len(self.n_drop)

    @property
    def severity(self) -> np.ndarray:
        """Fraction of the 12 x T grid each record's masks remove, ``(N,)``."""
        kept = np.arange(N_LEADS)[None, :] < (N_LEADS - self.n_drop)[:, None]
        cells = self.n_drop * self.n_samples + (self.span_len * kept).sum(axis=1)
        return cells / (N_LEADS * self.n_samples)


def _rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def sample_budgets(kind: str, n: int, n_samples: int, rng, config: MissingnessConfig = MissingnessConfig()
                   ) -> MaskBudget:
    """Draw the budget (dropped-lead count, span lengths) of ``n`` records."""
    _check_kind(kind)
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    rng = _rng(rng)
    u = rng.random((n, 2, N_LEADS))
    n_drop = np.zeros(n, dtype=int)
    span_len = np.zeros((n, N_LEADS), dtype=int)
    if kind in ("lead", "joint"):
        # independent Bernoulli per lead; all 12 dropped -> one is kept
        n_drop = np.minimum((u[:, 0] < config.p_lead).sum(axis=1), N_LEADS - 1)
    if kind in ("temporal", "joint"):
        lo, hi = config.span
        span_len = np.rint((lo + (hi - lo) * u[:, 1]) * n_samples).astype(int)
    return MaskBudget(n_drop, span_len, n_samples)


def realise_masks(budget: MaskBudget, rng, n_candidates: int | None = None) -> np.ndarray:
    """Place a budget: which leads are dropped, where the spans lie.

    Returns ``(N, 12, T)`` bool, or ``(N, C, 12, T)`` when ``n_candidates`` is given (C independent
    placements of the same budget per record).
    """
    rng = _rng(rng)
    n, t = len(budget), budget.n_samples
    c = 1 if n_candidates is None else int(n_candidates)
    if c < 1:
        raise ValueError(f"n_candidates must be >= 1, got {n_candidates}")
    u = rng.random((n, c, 2, N_LEADS))
    order = np.argsort(u[:, :, 0], axis=-1, kind="stable")  # a random lead order per candidate
    rank = np.argsort(order, axis=-1, kind="stable")  # position of each lead in that order
    n_drop = budget.n_drop[:, None, None]
    dropped = rank < n_drop  # (n, c, 12): the first n_drop leads of the order
    slot = np.clip(rank - n_drop, 0, N_LEADS - 1)  # kept lead -> span slot
    length = np.take_along_axis(np.broadcast_to(budget.span_len[:, None, :], (n, c, N_LEADS)), slot, axis=-1)
    length = np.where(dropped, 0, length)
    start = np.floor(u[:, :, 1] * (t - length + 1)).astype(int)
    tt = np.arange(t)
    masks = dropped[..., None] | ((tt >= start[..., None]) & (tt < (start + length)[..., None]))
    return masks[:, 0] if n_candidates is None else masks


def sample_masks(kind: str, n: int, n_samples: int, rng, config: MissingnessConfig = MissingnessConfig()
                 ) -> np.ndarray:
    """**Rand.** masks: ``(n, 12, n_samples)`` bool, True = remove.

    Parameters
    ----------
    kind : {"lead", "temporal", "joint"}
    n : int
        Number of records.
    n_samples : int
        T, samples per lead.
    rng : numpy.random.Generator or int seed
    config : MissingnessConfig

    Examples
    --------
    >>> m = sample_masks("lead", 4, 100, rng=0)
    >>> m.shape, bool(m.all(axis=(1, 2)).any())
    ((4, 12, 100), False)
    """
    rng = _rng(rng)
    return realise_masks(sample_budgets(kind, n, n_samples, rng, config), rng)


def apply_mask(signal, observed, remove):
    """Zero the removed samples and mark them unobserved (never marks anything observed).

    Works on numpy arrays and torch tensors of shape ``(N, 12, T)`` (or any equal shapes).

    Returns
    -------
    signal, observed : same type as the inputs
    """
    if tuple(remove.shape) != tuple(signal.shape) or tuple(observed.shape) != tuple(signal.shape):
        raise ValueError(f"signal {tuple(signal.shape)}, observed {tuple(observed.shape)} and mask "
                         f"{tuple(remove.shape)} must have the same shape")
    if isinstance(signal, np.ndarray):
        keep = observed & ~np.asarray(remove, dtype=bool)
        return np.where(keep, signal, 0).astype(signal.dtype, copy=False), keep
    import torch

    remove = torch.as_tensor(remove, dtype=torch.bool, device=signal.device)
    keep = observed & ~remove
    return torch.where(keep, signal, torch.zeros((), dtype=signal.dtype, device=signal.device)), keep


def severity(remove) -> np.ndarray:
    """``S(m)``: fraction of the 12 x T grid the mask removes, per record ``(N,)``."""
    remove = np.asarray(remove, dtype=bool)
    return remove.reshape(len(remove), -1).mean(axis=1)


def impact(p0: np.ndarray, p_masked: np.ndarray) -> np.ndarray:
    """``I(x, m) = mean_k |p_masked_k - p0_k|`` over the last axis."""
    return np.abs(np.asarray(p_masked, dtype=np.float64) - np.asarray(p0, dtype=np.float64)).mean(axis=-1)


@dataclass
class HardMasks:
    """Result of :func:`hard_masks`.

    Attributes
    ----------
    masks : ndarray (N, 12, T) bool
        The chosen (highest-impact) mask of every record.
    impact : ndarray (N,)
        Its impact on the reference.
    candidate_impact : ndarray (N, C)
        Impact of every candidate (the chosen one is the arg-max; candidate 0 is ``first`` when
        it was given).
    severity : ndarray (N,)
    """

    masks: np.ndarray
    impact: np.ndarray
    candidate_impact: np.ndarray
    severity: np.ndarray


def hard_masks(reference: ProbabilityFn, signal: np.ndarray, observed: np.ndarray, kind: str,
               n_candidates: int, rng, config: MissingnessConfig = MissingnessConfig(),
               batch_size: int = 256, p0: np.ndarray | None = None, budget: MaskBudget | None = None,
               first: np.ndarray | None = None) -> HardMasks:
    """**Hard** masks: per record, the highest-impact of ``n_candidates`` same-budget candidates.

    Parameters
    ----------
    reference : callable
        ``reference(signal (B, 12, T), observed (B, 12, T)) -> (B, K)`` per-class probabilities
        (see :func:`ecgfoundry.eval.predict.probability_fn` for torch modules).
    signal : ndarray (N, 12, T) float32
    observed : ndarray (N, 12, T) bool
    kind : {"lead", "temporal", "joint"}
    n_candidates : int
        C, candidates per record.
    rng : numpy.random.Generator or int seed
    batch_size : int
        Rows (record x candidate) passed to ``reference`` at once.
    p0 : ndarray (N, K), optional
        ``reference(signal, observed)`` if already computed.
    budget : MaskBudget, optional
        Each record's budget (e.g. the one its Rand. mask was placed from). Default: drawn from
        ``rng`` (``kind`` and ``config``) before the candidates.
    first : ndarray (N, 12, T) bool, optional
        A placement of ``budget`` to count as candidate 0 (the record's Rand. mask), so that the
        chosen mask's impact is never below it; the other ``n_candidates - 1`` are drawn from
        ``rng``. Needs ``budget``; each record's mask must remove exactly its budget.
    """
    rng = _rng(rng)
    _check_kind(kind)
    signal = np.asarray(signal, dtype=np.float32)
    observed = np.asarray(observed, dtype=bool)
    if signal.ndim != 3 or signal.shape[1] != N_LEADS or observed.shape != signal.shape:
        raise ValueError(f"signal and observed must be (N, 12, T) of equal shape, got {signal.shape}, {observed.shape}")
    n, _, t = signal.shape
    c = int(n_candidates)
    if c < 1:
        raise ValueError(f"n_candidates must be >= 1, got {n_candidates}")
    if budget is None:
        if first is not None:
            raise ValueError("first (a placed mask) needs the budget it was placed from")
        budget = sample_budgets(kind, n, t, rng, config)
    elif len(budget) != n or budget.n_samples != t:
        raise ValueError(f"budget is for {len(budget)} records of {budget.n_samples} samples, "
                         f"signal is {signal.shape}")
    if first is not None:
        first = np.asarray(first, dtype=bool)
        if first.shape != signal.shape:
            raise ValueError(f"first {first.shape} must have the shape of signal {signal.shape}")
        cells = first.reshape(n, -1).sum(axis=1)
        want = np.rint(budget.severity * N_LEADS * t).astype(int)
        if not np.array_equal(cells, want):
            bad = int(np.flatnonzero(cells != want)[0])
            raise ValueError(f"first does not place the budget: record {bad} removes {cells[bad]} cells, "
                             f"its budget {want[bad]}")
    if p0 is None:
        p0 = np.concatenate([np.asarray(reference(signal[a:a + batch_size], observed[a:a + batch_size]))
                             for a in range(0, n, batch_size)]) if n else np.zeros((0, 0))
    per_chunk = max(1, batch_size // c)
    chosen = np.zeros(signal.shape, dtype=bool)
    cand_impact = np.zeros((n, c))
    for a in range(0, n, per_chunk):
        b = min(n, a + per_chunk)
        m = b - a
        sub = MaskBudget(budget.n_drop[a:b], budget.span_len[a:b], t)
        if first is None:
            cand = realise_masks(sub, rng, c)  # (m, c, 12, T)
        else:
            drawn = realise_masks(sub, rng, c - 1) if c > 1 else np.zeros((m, 0, N_LEADS, t), dtype=bool)
            cand = np.concatenate([first[a:b, None], drawn], axis=1)
        rows = cand.reshape(m * c, N_LEADS, t)
        sig = np.repeat(signal[a:b], c, axis=0)
        obs = np.repeat(observed[a:b], c, axis=0)
        sig, obs = apply_mask(sig, obs, rows)
        p_masked = np.concatenate([np.asarray(reference(sig[i:i + batch_size], obs[i:i + batch_size]))
                                   for i in range(0, len(rows), batch_size)])
        imp = impact(np.repeat(p0[a:b], c, axis=0), p_masked).reshape(m, c)
        cand_impact[a:b] = imp
        chosen[a:b] = cand[np.arange(m), imp.argmax(axis=1)]
    return HardMasks(chosen, cand_impact.max(axis=1), cand_impact, severity(chosen))
