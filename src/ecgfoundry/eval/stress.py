"""The missingness stress test: a model's metrics and CMRS under lead, temporal and joint
missingness, random (**rand**) and reference-chosen (**hard**) masks.

For every requested missingness kind x mode:

1. masks are drawn for the test records (:mod:`ecgfoundry.eval.missingness`) from a generator
   seeded by ``(seed, kind, mode)``, so a cell's masks do not depend on which other cells were
   requested and two models evaluated with the same seed (and the same reference, for hard masks)
   see exactly the same masks;
2. the model's scores on the masked test records give AUROC / AUPRC / F1
   (:func:`ecgfoundry.eval.metrics.evaluate`; F1 thresholds come from the model's **full-view
   validation** scores, never from test);
3. CMRS (:mod:`ecgfoundry.eval.cmrs`) compares the model's calibrated probabilities on the masked
   records with the reference's full-view probabilities: ``p_G = Platt(G(x^m))``, the Platt scaler
   fitted per class on G's full-view validation scores; ``pi`` is the training prevalence.

``model`` and ``reference`` are numpy callables ``fn(signal (N, 12, T), observed (N, 12, T)) -> (N, K)``
(:func:`ecgfoundry.eval.predict.probability_fn` wraps a torch module): ``model`` returns raw scores
(zero-shot cosines, probe logits), ``reference`` returns probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ecgfoundry.eval.cmrs import CMRSResult, PlattScaler, cmrs
from ecgfoundry.eval.metrics import Evaluation, evaluate
from ecgfoundry.eval.missingness import KINDS, apply_mask, hard_masks, sample_masks, severity
from ecgfoundry.eval.predict import ProbabilityFn

MODES: tuple[str, ...] = ("rand", "hard")


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
        None when no reference was given.
    severity : float
        Mean fraction of the 12 x T grid removed.
    """

    kind: str
    mode: str
    evaluation: Evaluation
    cmrs: CMRSResult | None
    severity: float


@dataclass
class StressReport:
    """Clean metrics plus one :class:`StressCell` per kind x mode."""

    clean: Evaluation
    cells: list[StressCell] = field(default_factory=list)
    calibrator: PlattScaler | None = None

    def cell(self, kind: str, mode: str) -> StressCell:
        for c in self.cells:
            if c.kind == kind and c.mode == mode:
                return c
        raise KeyError(f"no cell {kind}/{mode}")


def _batched(fn: ProbabilityFn, signal, observed, batch_size: int) -> np.ndarray:
    return np.concatenate([np.asarray(fn(signal[a:a + batch_size], observed[a:a + batch_size]), dtype=np.float64)
                           for a in range(0, len(signal), batch_size)])


def mask_rng(seed: int, kind: str, mode: str) -> np.random.Generator:
    """The generator of one cell's masks: seeded by ``(seed, kind, mode)``."""
    return np.random.default_rng([int(seed), KINDS.index(kind), MODES.index(mode)])


def stress_test(model: ProbabilityFn, signal, observed, y_test, val_signal, val_observed, y_val,
                classes: Sequence[str] | None = None, reference: ProbabilityFn | None = None,
                prevalence=None, kinds: Sequence[str] = KINDS, modes: Sequence[str] = MODES, seed: int = 0,
                n_boot: int = 1000, calibrate: bool = True, n_candidates: int = 8, batch_size: int = 256,
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
        C, candidate masks per record for hard masks.
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
    n, _, t = signal.shape
    cells = [(k, m) for k in kinds for m in modes]
    for kind, mode in track(cells, "missingness stress test", enabled=progress):
        rng = mask_rng(seed, kind, mode)
        if mode == "rand":
            masks = sample_masks(kind, n, t, rng)
        else:
            masks = hard_masks(reference, signal, observed, kind, n_candidates, rng, batch_size=batch_size,
                               p0=p0).masks
        s, o = apply_mask(signal, observed, masks)
        g = _batched(model, s, o, batch_size)
        ev = evaluate(y_test, g, y_val, s_val, classes, n_boot=n_boot, seed=seed)
        result = None
        if reference is not None:
            p_masked = _batched(reference, s, o, batch_size)
            p_model = report.calibrator.transform(g) if report.calibrator is not None else g
            result = cmrs(p0, p_masked, p_model, prevalence, severity(masks))
        report.cells.append(StressCell(kind, mode, ev, result, float(severity(masks).mean())))
    return report
