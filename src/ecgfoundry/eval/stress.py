"""The missingness stress test: a model's metrics and CMRS under lead, temporal and joint
missingness, random (**rand**) and reference-chosen (**hard**) masks.

For every requested missingness kind x mode:

1. masks are drawn for the test records (:mod:`ecgfoundry.eval.missingness`, :func:`cell_masks`):
   each record's **budget** (how many leads go, which span lengths) is drawn once per
   ``(seed, kind)`` (:func:`budget_rng`) and shared by Rand. and Hard. Rand. places it once at
   random (generator seeded by ``(seed, kind, "rand")``); Hard keeps, of ``n_candidates``
   placements of the same budget (the Rand. one and ``n_candidates - 1`` drawn from
   ``(seed, kind, "hard")``), the one that moves the reference F most. Rand. and Hard therefore
   remove exactly the same cells per record (equal severity), a cell's masks do not depend on which
   other cells were requested, and two models evaluated with the same seed (and the same reference,
   for hard masks) see exactly the same masks;
2. the model's scores on the masked test records give AUROC / AUPRC / F1
   (:func:`ecgfoundry.eval.metrics.evaluate`; F1 thresholds come from the model's **full-view
   validation** scores, never from test); F's own macro AUROC under the same masks is reported
   beside them, so that a reader sees how much harder Hard is than Rand. for F;
3. CMRS (:mod:`ecgfoundry.eval.cmrs`) compares the model's calibrated probabilities on the masked
   records with the reference's full-view probabilities: ``p_G = Platt(G(x^m))``, the Platt scaler
   fitted per class on G's full-view validation scores; ``pi`` is the training prevalence. Beside
   it ``cmrs_clean`` (G's clean view in place of the masked one), ``cmrs_robust = cmrs -
   cmrs_clean`` and ``cmrs_self`` (G's masked view against its own clean view).

``N_CANDIDATES`` (16) is the default C. The chosen impact grows like the maximum of C draws, so it
rises fast at first and then flattens; 16 costs F 16 passes over the test split per kind (about
twice the old default of 8) and stays affordable on a CPU, and the Rand. placement is always one of
the candidates, so Hard never moves F less than Rand.

Hard masks depend only on the test records, F and the mask settings, so they are cached on disk
(``hard-masks/`` of the user cache, :mod:`ecgfoundry.cache`), keyed by a hash of the signals, the
observed map, F's full-view probabilities (rounded to 1e-5: a different F gives a different key),
kind, seed, C and the missingness config: evaluating several models against one F pays F's C
passes per kind once. ``cache=False`` turns this off.

``model`` and ``reference`` are numpy callables ``fn(signal (N, 12, T), observed (N, 12, T)) -> (N, K)``
(:func:`ecgfoundry.eval.predict.probability_fn` wraps a torch module): ``model`` returns raw scores
(zero-shot cosines, probe logits), ``reference`` returns probabilities.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ecgfoundry.eval.cmrs import CMRSResult, PlattScaler, cmrs
from ecgfoundry.eval.metrics import Evaluation, bootstrap_ci, evaluate, macro_auroc
from ecgfoundry.eval.missingness import (KINDS, MaskBudget, MissingnessConfig, apply_mask, hard_masks,
                                         realise_masks, sample_budgets, severity)
from ecgfoundry.eval.predict import ProbabilityFn

MODES: tuple[str, ...] = ("rand", "hard")
N_CANDIDATES = 16
"""Default C, candidate placements per record for Hard masks (module docstring: why 16)."""
_BUDGET_STREAM = len(MODES)  # the third seed word of the budget generator: not a mode's index


@dataclass
class StressCell:
    """One missingness kind x mode.

    Attributes
    ----------
    kind : {"lead", "temporal", "joint"}
    mode : {"rand", "hard"}
    evaluation : Evaluation
        Test metrics on the masked records.
    cmrs : CMRSResult or None
        None when no reference was given; built with G's clean view, so it holds ``cmrs_clean``,
        ``cmrs_self`` and ``cmrs_robust`` too.
    severity : float
        Mean fraction of the 12 x T grid removed (the same for Rand. and Hard of a kind).
    reference_auroc : float or None
        F's own macro AUROC on the masked test records (None without a reference).
    reference_auroc_ci : (float, float) or None
        Its record-level bootstrap interval (None without resamples).
    """

    kind: str
    mode: str
    evaluation: Evaluation
    cmrs: CMRSResult | None
    severity: float
    reference_auroc: float | None = None
    reference_auroc_ci: tuple[float, float] | None = None


@dataclass
class StressReport:
    """Clean metrics plus one :class:`StressCell` per kind x mode."""

    clean: Evaluation
    cells: list[StressCell] = field(default_factory=list)
    calibrator: PlattScaler | None = None
    reference_auroc: float | None = None
    reference_auroc_ci: tuple[float, float] | None = None

    def cell(self, kind: str, mode: str) -> StressCell:
        for c in self.cells:
            if c.kind == kind and c.mode == mode:
                return c
        raise KeyError(f"no cell {kind}/{mode}")


def _batched(fn: ProbabilityFn, signal, observed, batch_size: int) -> np.ndarray:
    return np.concatenate([np.asarray(fn(signal[a:a + batch_size], observed[a:a + batch_size]), dtype=np.float64)
                           for a in range(0, len(signal), batch_size)])


def mask_rng(seed: int, kind: str, mode: str) -> np.random.Generator:
    """The generator that places one cell's masks: seeded by ``(seed, kind, mode)``."""
    return np.random.default_rng([int(seed), KINDS.index(kind), MODES.index(mode)])


def budget_rng(seed: int, kind: str) -> np.random.Generator:
    """The generator of a kind's per-record budgets, shared by Rand. and Hard: seeded by ``(seed,
    kind)`` and a stream word that no mode uses."""
    return np.random.default_rng([int(seed), KINDS.index(kind), _BUDGET_STREAM])


def cell_budget(seed: int, kind: str, n: int, n_samples: int,
                config: MissingnessConfig = MissingnessConfig()) -> MaskBudget:
    """Each record's budget for ``kind``: drawn once per ``(seed, kind)``."""
    return sample_budgets(kind, n, n_samples, budget_rng(seed, kind), config)


def rand_masks(seed: int, kind: str, n: int, n_samples: int,
               config: MissingnessConfig = MissingnessConfig()) -> np.ndarray:
    """The Rand. masks of a cell, ``(n, 12, n_samples)`` bool: one placement of the cell budget."""
    return realise_masks(cell_budget(seed, kind, n, n_samples, config), mask_rng(seed, kind, "rand"))


def _hard_key(signal, observed, p0, kind: str, seed: int, n_candidates: int, config: MissingnessConfig) -> str:
    import hashlib

    h = hashlib.sha256(b"hard-masks-v1")
    for a in (np.ascontiguousarray(signal, dtype=np.float32), np.packbits(np.asarray(observed, dtype=bool)),
              np.round(np.asarray(p0, dtype=np.float64), 5)):
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    h.update(repr((kind, int(seed), int(n_candidates), config)).encode())
    return h.hexdigest()[:32]


def cell_masks(kind: str, mode: str, signal, observed, seed: int, reference: ProbabilityFn | None = None,
               n_candidates: int = N_CANDIDATES, batch_size: int = 256, p0=None,
               config: MissingnessConfig = MissingnessConfig(), cache: bool = True) -> np.ndarray:
    """The masks of one stress-test cell (module docstring), ``(N, 12, T)`` bool, True = remove.

    Parameters
    ----------
    kind : {"lead", "temporal", "joint"}
    mode : {"rand", "hard"}
    signal, observed : arrays (N, 12, T)
        Test records (Hard only reads them).
    seed : int
    reference : callable, optional
        F, required for Hard.
    n_candidates : int
        C for Hard, the Rand. placement included.
    batch_size : int
    p0 : array (N, K), optional
        F on the full view, if already computed.
    config : MissingnessConfig
    cache : bool
        Read and write Hard masks in the user cache (module docstring).
    """
    if mode not in MODES:
        raise ValueError(f"unknown mask mode {mode!r}; choose from {', '.join(MODES)}")
    n, _, t = np.shape(signal)
    budget = cell_budget(seed, kind, n, t, config)
    rand = realise_masks(budget, mask_rng(seed, kind, "rand"))
    if mode == "rand":
        return rand
    if reference is None:
        raise ValueError("hard masks need a reference classifier")
    path = None
    if cache:
        from ecgfoundry.cache import hard_masks_dir

        if p0 is None:
            p0 = _batched(reference, signal, observed, batch_size)
        path = hard_masks_dir() / f"{_hard_key(signal, observed, p0, kind, seed, n_candidates, config)}.npz"
        if path.exists():
            try:
                with np.load(path) as z:
                    masks = np.unpackbits(z["masks"], count=n * 12 * t).reshape(n, 12, t).astype(bool)
                if np.array_equal(masks.reshape(n, -1).sum(1), rand.reshape(n, -1).sum(1)):
                    return masks
            except (OSError, ValueError, KeyError):
                pass  # unreadable or stale: recompute and overwrite
    masks = hard_masks(reference, signal, observed, kind, n_candidates, mask_rng(seed, kind, "hard"), config,
                       batch_size=batch_size, p0=p0, budget=budget, first=rand).masks
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npz")
            np.savez_compressed(tmp, masks=np.packbits(masks.reshape(-1)))
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only cache only costs time
    return masks


def _auroc_ci(y, scores, n_boot: int, seed: int) -> tuple[float | None, tuple[float, float] | None]:
    value = macro_auroc(y, scores).value
    return value, (bootstrap_ci(y, scores, "auroc", n_boot=n_boot, seed=seed).macro if n_boot else None)


def cell_metrics(cell: StressCell, classes: Sequence[str] | None = None, n_boot: int = 0, seed: int = 0,
                 level: float = 0.95) -> dict:
    """The stress-test keys of one cell in ``metrics.json``: ``severity``, ``reference_auroc`` (+
    ``_ci``), and with a reference ``cmrs``, ``cmrs_clean``, ``cmrs_self``, ``cmrs_robust`` (each
    with ``_ci`` when ``n_boot`` > 0, all from the same resamples), ``impact``, ``resolution`` and
    ``cmrs_per_class``."""
    d: dict = {"severity": cell.severity}
    if cell.reference_auroc is not None:
        d["reference_auroc"] = cell.reference_auroc
        if cell.reference_auroc_ci is not None:
            d["reference_auroc_ci"] = list(cell.reference_auroc_ci)
    if cell.cmrs is None:
        return d
    comp = cell.cmrs.components
    d.update(cell.cmrs.scores())
    d.update(impact=float(comp["impact"].mean()), resolution=float(comp["resolution"].mean()))
    if n_boot:  # like auroc_ci: absent without bootstrap resamples
        for name, ci in cell.cmrs.bootstrap_cis(n_boot, seed, level).items():
            d[f"{name}_ci"] = list(ci)
    pc = cell.cmrs.per_class_scores(classes)
    d["cmrs_per_class"] = dict(zip(pc["class"], pc["cmrs"]))
    return d


def stress_test(model: ProbabilityFn, signal, observed, y_test, val_signal, val_observed, y_val,
                classes: Sequence[str] | None = None, reference: ProbabilityFn | None = None,
                prevalence=None, kinds: Sequence[str] = KINDS, modes: Sequence[str] = MODES, seed: int = 0,
                n_boot: int = 1000, calibrate: bool = True, n_candidates: int = N_CANDIDATES, batch_size: int = 256,
                progress: bool = True) -> StressReport:
    """Clean and masked metrics of ``model`` on the test records, and CMRS per kind x mode.

    Parameters
    ----------
    model : callable
        ``G(signal, observed) -> (N, K)`` raw scores.
    signal, observed : arrays (N, 12, T)
        Test records (float32 mV, bool).
    y_test : array (N, K)
    val_signal, val_observed, y_val : validation records and labels (full view)
        Used for F1 thresholds and the Platt scaler only.
    classes : sequence of str
    reference : callable, optional
        ``F(signal, observed) -> (N, K)`` probabilities. Required for hard masks and CMRS.
    prevalence : array (K,)
        Training prevalence pi (required with ``reference``).
    kinds : subset of ("lead", "temporal", "joint")
    modes : subset of ("rand", "hard")
    seed : int
        Masks and bootstrap.
    n_boot : int
    calibrate : bool
        Platt-scale G's scores (fitted on full-view validation scores). False when G already returns
        probabilities on the reference's scale (known-answer tests).
    n_candidates : int
        C, candidate placements per record for hard masks (the Rand. one included).
    batch_size : int
    progress : bool
    """
    from ecgfoundry.progress import track

    for k in kinds:
        if k not in KINDS:
            raise ValueError(f"unknown missingness type {k!r}; choose from {', '.join(KINDS)}")
    for m in modes:
        if m not in MODES:
            raise ValueError(f"unknown mask mode {m!r}; choose from {', '.join(MODES)}")
    if reference is None and "hard" in modes:
        raise ValueError("hard masks need a reference classifier")
    if reference is not None and prevalence is None:
        raise ValueError("CMRS needs the training prevalence")
    signal = np.asarray(signal, dtype=np.float32)
    observed = np.asarray(observed, dtype=bool)
    s_val = _batched(model, val_signal, val_observed, batch_size)
    s_test = _batched(model, signal, observed, batch_size)
    report = StressReport(evaluate(y_test, s_test, y_val, s_val, classes, n_boot=n_boot, seed=seed))
    if calibrate:
        report.calibrator = PlattScaler().fit(s_val, y_val)
    p0 = _batched(reference, signal, observed, batch_size) if reference is not None else None
    q0 = report.calibrator.transform(s_test) if report.calibrator is not None else s_test  # G's clean view
    if p0 is not None:
        report.reference_auroc, report.reference_auroc_ci = _auroc_ci(y_test, p0, n_boot, seed)
    cells = [(k, m) for k in kinds for m in modes]
    for kind, mode in track(cells, "missingness stress test", enabled=progress):
        masks = cell_masks(kind, mode, signal, observed, seed, reference, n_candidates, batch_size, p0)
        s, o = apply_mask(signal, observed, masks)
        g = _batched(model, s, o, batch_size)
        ev = evaluate(y_test, g, y_val, s_val, classes, n_boot=n_boot, seed=seed)
        cell = StressCell(kind, mode, ev, None, float(severity(masks).mean()))
        if reference is not None:
            p_masked = _batched(reference, s, o, batch_size)
            p_model = report.calibrator.transform(g) if report.calibrator is not None else g
            cell.cmrs = cmrs(p0, p_masked, p_model, prevalence, severity(masks), p_model_clean=q0)
            cell.reference_auroc, cell.reference_auroc_ci = _auroc_ci(y_test, p_masked, n_boot, seed)
        report.cells.append(cell)
    return report
