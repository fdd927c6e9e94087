"""Classification metrics for multi-label ECG tasks: macro AUROC / AUPRC over the classes that can be
evaluated, F1 at thresholds chosen on the validation split, accuracy, per-class tables and
record-level bootstrap confidence intervals.

Rules (hold them in every table):

- A class is *evaluated* on a set of records when that set holds both a positive and a negative
  for it. AUROC, AUPRC and F1 are undefined (AUROC) or uninformative (AUPRC = 1, F1 of an all-negative
  class) otherwise, so the class is **skipped** and the reason is returned. Macro averages are
  plain means over the evaluated classes only; the same rule is applied inside every bootstrap
  resample (a class that loses its positives in one resample is left out of that resample's mean).
- Thresholds for F1 (and binary accuracy) are chosen per class on the **validation** split
  (the threshold that maximises validation F1) and applied unchanged to the test split. The API
  never looks at test labels to pick a threshold.
- Bootstrap resamples *records* (rows) with replacement, seeded, so every number is reproducible.

All per-class functions accept ``sample_weight`` of shape ``(N,)`` or ``(B, N)``; a bootstrap
resample is the same as weighting each record by how often it was drawn, which lets ``B``
resamples be computed in one vectorised pass. They agree with scikit-learn's
``roc_auc_score`` / ``average_precision_score`` (tested).

Examples
--------
>>> import numpy as np
>>> y = np.array([[1, 0], [0, 0], [1, 0], [0, 0]])
>>> s = np.array([[0.9, 0.1], [0.2, 0.3], [0.8, 0.5], [0.1, 0.2]])
>>> res = macro_auroc(y, s, classes=("AF", "RBBB"))
>>> res.value, res.skipped
(1.0, {'RBBB': 'no positives'})
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

MetricFn = Callable[..., np.ndarray]


# ----------------------------------------------------------------------------- input checks

def _as_2d(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    s = np.asarray(y_score, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if s.ndim == 1:
        s = s[:, None]
    if y.shape != s.shape:
        raise ValueError(f"y_true {y.shape} and y_score {s.shape} must have the same shape (N, K)")
    if not np.all(np.isfinite(s)):
        raise ValueError("y_score contains NaN or inf")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("y_true must be multi-hot (0/1)")
    return y.astype(bool), s


def _weights(sample_weight, n: int) -> tuple[np.ndarray, bool]:
    """Weights as (B, N) float64, and whether the caller passed a single row."""
    if sample_weight is None:
        return np.ones((1, n)), True
    w = np.asarray(sample_weight, dtype=np.float64)
    single = w.ndim == 1
    w = np.atleast_2d(w)
    if w.shape[1] != n:
        raise ValueError(f"sample_weight has {w.shape[1]} columns for {n} records")
    return w, single


def _class_names(classes, k: int) -> tuple[str, ...]:
    if classes is None:
        return tuple(str(j) for j in range(k))
    classes = tuple(classes)
    if len(classes) != k:
        raise ValueError(f"{len(classes)} class names for {k} columns")
    return classes


def skip_reasons(y_true, classes: Sequence[str] | None = None) -> dict[str, str]:
    """Classes that cannot be evaluated on ``y_true`` -> why ("no positives" / "no negatives")."""
    y = np.asarray(y_true).astype(bool)
    if y.ndim == 1:
        y = y[:, None]
    names = _class_names(classes, y.shape[1])
    out = {}
    for j, name in enumerate(names):
        if not y[:, j].any():
            out[name] = "no positives"
        elif y[:, j].all():
            out[name] = "no negatives"
    return out


# ----------------------------------------------------------------------------- per-class metrics

def _groups(s_sorted: np.ndarray) -> np.ndarray:
    """Start index of every run of equal scores in a sorted vector."""
    return np.r_[0, np.flatnonzero(np.diff(s_sorted)) + 1]


def _auroc_1d(y: np.ndarray, s: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted AUROC (Mann-Whitney, ties count 1/2) of one class for every weight row: (B,)."""
    order = np.argsort(s, kind="mergesort")
    starts = _groups(s[order])
    yo, wo = y[order], w[:, order]
    gp = np.add.reduceat(wo * yo, starts, axis=1)
    gn = np.add.reduceat(wo * ~yo, starts, axis=1)
    neg_below = np.cumsum(gn, axis=1) - gn
    num = (gp * (neg_below + 0.5 * gn)).sum(axis=1)
    pos, neg = gp.sum(axis=1), gn.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = num / (pos * neg)
    auc[(pos <= 0) | (neg <= 0)] = np.nan
    return auc


def _auprc_1d(y: np.ndarray, s: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted average precision (sum over thresholds of recall step x precision): (B,)."""
    order = np.argsort(-s, kind="mergesort")
    starts = _groups(-s[order])
    yo, wo = y[order], w[:, order]
    gp = np.add.reduceat(wo * yo, starts, axis=1)
    gn = np.add.reduceat(wo * ~yo, starts, axis=1)
    tp, fp = np.cumsum(gp, axis=1), np.cumsum(gn, axis=1)
    pos, neg = tp[:, -1], fp[:, -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / np.where(tp + fp > 0, tp + fp, 1), 0.0)
        ap = (gp * precision).sum(axis=1) / pos
    ap[(pos <= 0) | (neg <= 0)] = np.nan
    return ap


def _per_class(fn, y_true, y_score, sample_weight) -> np.ndarray:
    y, s = _as_2d(y_true, y_score)
    w, single = _weights(sample_weight, len(y))
    out = np.stack([fn(y[:, j], s[:, j], w) for j in range(y.shape[1])], axis=1)  # (B, K)
    return out[0] if single else out


def per_class_auroc(y_true, y_score, sample_weight=None) -> np.ndarray:
    """AUROC of every class, NaN where the class lacks positives or negatives.

    Parameters
    ----------
    y_true : array of shape (N, K), multi-hot
    y_score : array of shape (N, K), any monotone score (probability, logit, cosine)
    sample_weight : array of shape (N,) or (B, N), optional

    Returns
    -------
    ndarray of shape (K,) or (B, K)
    """
    return _per_class(_auroc_1d, y_true, y_score, sample_weight)


def per_class_auprc(y_true, y_score, sample_weight=None) -> np.ndarray:
    """Average precision (area under the precision-recall curve, step-wise) of every class.

    NaN where the class lacks positives or negatives (see the module rules).
    """
    return _per_class(_auprc_1d, y_true, y_score, sample_weight)


def choose_thresholds(y_val, s_val) -> np.ndarray:
    """Per-class threshold maximising F1 on the validation split (predict positive if score >= t).

    Returns ``(K,)`` thresholds; NaN for a class without validation positives (no threshold can be
    justified; its F1 is then reported as NaN and the class is skipped for F1). Among thresholds
    with equal F1 the highest is taken.
    """
    y, s = _as_2d(y_val, s_val)
    out = np.full(y.shape[1], np.nan)
    for j in range(y.shape[1]):
        pos = y[:, j].sum()
        if pos == 0:
            continue
        order = np.argsort(-s[:, j], kind="mergesort")
        ss, yy = s[order, j], y[order, j]
        ends = np.r_[np.flatnonzero(np.diff(ss)), len(ss) - 1]  # last index of each tie group
        tp = np.cumsum(yy)[ends]
        npred = ends + 1
        f1 = 2 * tp / (npred + pos)
        out[j] = ss[ends[int(np.argmax(f1))]]
    return out


def f1_at_thresholds(y_true, y_score, thresholds, sample_weight=None) -> np.ndarray:
    """F1 of every class at fixed thresholds (from :func:`choose_thresholds` on validation).

    NaN where the threshold is NaN or the class lacks positives or negatives.
    """
    y, s = _as_2d(y_true, y_score)
    t = np.asarray(thresholds, dtype=np.float64)
    if t.shape != (y.shape[1],):
        raise ValueError(f"thresholds must have shape ({y.shape[1]},), got {t.shape}")
    w, single = _weights(sample_weight, len(y))
    with np.errstate(invalid="ignore"):
        pred = s >= t  # NaN thresholds give all-False; masked below
    tp = w @ (y & pred)
    fp = w @ (~y & pred)
    fn = w @ (y & ~pred)
    pos, neg = w @ y, w @ ~y
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
    f1[(pos <= 0) | (neg <= 0) | np.isnan(t)[None, :]] = np.nan
    return f1[0] if single else f1


def accuracy(y_true, y_score, threshold: float | np.ndarray = 0.5, sample_weight=None):
    """Accuracy of a multi-class (K > 1, one label per record) or binary (K = 1) task.

    Parameters
    ----------
    y_true : array (N,) of class indices, or (N, K) one-hot; for binary tasks (N,) or (N, 1) 0/1
    y_score : array (N, K) scores (multi-class: arg-max wins) or (N,) / (N, 1) binary scores
    threshold : float
        Binary tasks only: predict positive when score >= threshold (choose it on validation with
        :func:`choose_thresholds`).

    Returns
    -------
    float, or (B,) for a (B, N) ``sample_weight``
    """
    s = np.asarray(y_score, dtype=np.float64)
    y = np.asarray(y_true)
    if s.ndim == 1 or s.shape[1] == 1:
        correct = (s.reshape(-1) >= np.asarray(threshold).reshape(-1)[0]) == y.reshape(-1).astype(bool)
    else:
        if y.ndim == 2:
            if not np.all(y.sum(axis=1) == 1):
                raise ValueError("accuracy needs exactly one positive per record (multi-class); "
                                 "use F1 / AUROC for multi-label tasks")
            y = y.argmax(axis=1)
        correct = s.argmax(axis=1) == y
    if len(correct) != len(s):
        raise ValueError("y_true and y_score have different numbers of records")
    w, single = _weights(sample_weight, len(correct))
    acc = (w @ correct) / w.sum(axis=1)
    return float(acc[0]) if single else acc


def top1_accuracy(y_true, y_score) -> float:
    """Fraction of records whose highest-scoring class is one of their true labels.

    Threshold-free and defined for multi-label tasks: for a multi-class task it is plain accuracy.
    Records with no positive label are left out (they cannot be hit); NaN when none is left.
    """
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(y_score, dtype=np.float64)
    if y.ndim != 2 or s.shape != y.shape:
        raise ValueError(f"y_true {y.shape} and y_score {s.shape} must both be (N, K)")
    has = y.any(axis=1)
    if not has.any():
        return float("nan")
    hit = y[np.arange(len(y)), s.argmax(axis=1)]
    return float(hit[has].mean())


# ----------------------------------------------------------------------------- macro scores

@dataclass
class MacroScore:
    """A macro average with its per-class values and the classes left out.

    Attributes
    ----------
    value : float
        Mean over evaluated classes (NaN when none is).
    per_class : ndarray of shape (K,)
        NaN for skipped classes.
    classes : tuple of str
    skipped : dict of str -> str
        Class -> why it was skipped.
    """

    value: float
    per_class: np.ndarray
    classes: tuple[str, ...]
    skipped: dict[str, str]

    @property
    def evaluated(self) -> tuple[str, ...]:
        return tuple(c for c in self.classes if c not in self.skipped)


def _macro(per_class: np.ndarray, y_true, classes) -> MacroScore:
    names = _class_names(classes, len(per_class))
    skipped = skip_reasons(y_true, names)
    value = float(np.nanmean(per_class)) if np.any(~np.isnan(per_class)) else float("nan")
    return MacroScore(value, per_class, names, skipped)


def macro_auroc(y_true, y_score, classes: Sequence[str] | None = None) -> MacroScore:
    """Macro AUROC over the classes that have positives and negatives in ``y_true``."""
    return _macro(per_class_auroc(y_true, y_score), y_true, classes)


def macro_auprc(y_true, y_score, classes: Sequence[str] | None = None) -> MacroScore:
    """Macro AUPRC (average precision) over the classes with positives and negatives."""
    return _macro(per_class_auprc(y_true, y_score), y_true, classes)


def macro_f1(y_val, s_val, y_test, s_test, classes: Sequence[str] | None = None) -> MacroScore:
    """Macro F1 on test at per-class thresholds chosen on validation (never on test)."""
    t = choose_thresholds(y_val, s_val)
    res = _macro(f1_at_thresholds(y_test, s_test, t), y_test, classes)
    for name, thr in zip(res.classes, t):
        if np.isnan(thr) and name not in res.skipped:
            res.skipped[name] = "no positives in validation (no threshold)"
    return res


# ----------------------------------------------------------------------------- bootstrap

@dataclass
class BootstrapCI:
    """Percentile bootstrap interval of a metric.

    Attributes
    ----------
    macro : tuple of float
        (low, high) of the macro average; each resample averages the classes it can evaluate.
    per_class_low, per_class_high : ndarray of shape (K,)
    n_valid : ndarray of shape (K,), int
        In how many resamples each class could be evaluated.
    level : float
    n_boot : int
    seed : int
    """

    macro: tuple[float, float]
    per_class_low: np.ndarray
    per_class_high: np.ndarray
    n_valid: np.ndarray
    level: float
    n_boot: int
    seed: int


def bootstrap_weights(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_boot, n)`` counts: how often each record is drawn in each record-level resample."""
    idx = rng.integers(0, n, size=(n_boot, n))
    return np.stack([np.bincount(row, minlength=n) for row in idx]).astype(np.float64)


def bootstrap_ci(y_true, y_score, metric: str | MetricFn = "auroc", n_boot: int = 1000, seed: int = 0,
                 level: float = 0.95, thresholds=None, chunk: int = 250) -> BootstrapCI:
    """Record-level percentile bootstrap CI of a per-class metric and its macro average.

    Parameters
    ----------
    y_true, y_score : arrays of shape (N, K)
    metric : {"auroc", "auprc", "f1"} or callable
        A callable takes ``(y_true, y_score, sample_weight=(B, N))`` and returns ``(B, K)`` with NaN
        for classes it cannot evaluate in a resample.
    n_boot : int
    seed : int
    level : float
        Coverage, e.g. 0.95.
    thresholds : array of shape (K,)
        Required for ``"f1"`` (chosen on validation; fixed across resamples).
    chunk : int
        Resamples computed per vectorised pass (memory: chunk x N floats per array).
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    y, s = _as_2d(y_true, y_score)
    if metric == "auroc":
        fn = per_class_auroc
    elif metric == "auprc":
        fn = per_class_auprc
    elif metric == "f1":
        if thresholds is None:
            raise ValueError("metric='f1' needs thresholds chosen on the validation split")
        fn = lambda yt, ys, sample_weight: f1_at_thresholds(yt, ys, thresholds, sample_weight)  # noqa: E731
    elif callable(metric):
        fn = metric
    else:
        raise ValueError(f"unknown metric {metric!r}; use 'auroc', 'auprc', 'f1' or a callable")
    rng = np.random.default_rng(seed)
    w = bootstrap_weights(len(y), n_boot, rng)
    vals = np.concatenate([np.atleast_2d(fn(y, s, sample_weight=w[a:a + chunk]))
                           for a in range(0, n_boot, chunk)])
    alpha = (1 - level) / 2
    with warnings.catch_warnings():  # all-NaN columns (a class never evaluable) give NaN bounds
        warnings.simplefilter("ignore", RuntimeWarning)
        macro = np.nanmean(vals, axis=1)
        lo = np.nanquantile(vals, alpha, axis=0)
        hi = np.nanquantile(vals, 1 - alpha, axis=0)
        mlo, mhi = np.nanquantile(macro, [alpha, 1 - alpha])
    return BootstrapCI((float(mlo), float(mhi)), lo, hi, (~np.isnan(vals)).sum(axis=0), level, n_boot, seed)


# ----------------------------------------------------------------------------- the whole evaluation

@dataclass
class Evaluation:
    """Test-set evaluation of one model on one label set.

    Attributes
    ----------
    macro : dict of str -> float
        ``auroc``, ``auprc``, ``f1`` (test, thresholds from validation).
    ci : dict of str -> (low, high)
        Bootstrap interval of each macro value.
    table : DataFrame
        One row per class: ``auroc``, ``auprc``, ``f1``, ``threshold``, ``support`` (test positives),
        ``n_test``, ``val_support``, their CI bounds, and ``skipped`` (reason or "").
    skipped : dict of str -> str
        Classes left out of the macro averages and why.
    """

    macro: dict[str, float]
    ci: dict[str, tuple[float, float]]
    table: pd.DataFrame
    skipped: dict[str, str]
    n_boot: int = 0
    seed: int = 0


def evaluate(y_test, s_test, y_val, s_val, classes: Sequence[str] | None = None, n_boot: int = 1000,
             seed: int = 0, level: float = 0.95) -> Evaluation:
    """AUROC, AUPRC and F1 (validation thresholds) with bootstrap CIs and a per-class table.

    Parameters
    ----------
    y_test, s_test : arrays of shape (N_test, K)
        Test labels and scores: the numbers reported.
    y_val, s_val : arrays of shape (N_val, K)
        Validation labels and scores: used **only** to choose the per-class F1 thresholds.
    classes : sequence of str
    n_boot : int
        Bootstrap resamples (0 = no intervals).
    seed : int
    """
    y, s = _as_2d(y_test, s_test)
    names = _class_names(classes, y.shape[1])
    yv, sv = _as_2d(y_val, s_val)
    if yv.shape[1] != y.shape[1]:
        raise ValueError(f"validation has {yv.shape[1]} classes, test has {y.shape[1]}")
    thr = choose_thresholds(yv, sv)
    auroc = macro_auroc(y, s, names)
    auprc = macro_auprc(y, s, names)
    f1 = macro_f1(yv, sv, y, s, names)
    table = pd.DataFrame({
        "class": names, "auroc": auroc.per_class, "auprc": auprc.per_class, "f1": f1.per_class,
        "threshold": thr, "support": y.sum(axis=0).astype(int), "n_test": len(y),
        "val_support": yv.sum(axis=0).astype(int),
    })
    ci: dict[str, tuple[float, float]] = {}
    if n_boot:
        for key, metric in (("auroc", "auroc"), ("auprc", "auprc"), ("f1", "f1")):
            b = bootstrap_ci(y, s, metric, n_boot=n_boot, seed=seed, level=level, thresholds=thr)
            ci[key] = b.macro
            table[f"{key}_low"], table[f"{key}_high"] = b.per_class_low, b.per_class_high
    table["skipped"] = [f1.skipped.get(c, "") for c in names]
    return Evaluation(
        macro={"auroc": auroc.value, "auprc": auprc.value, "f1": f1.value},
        ci=ci, table=table, skipped=dict(f1.skipped), n_boot=n_boot, seed=seed,
    )
