r"""The Counterfactual Missingness Resolution Score (CMRS).

CMRS asks: when part of an ECG is removed, how much of the *full-view* diagnostic meaning does a
model G still recover, weighted by how much the removal mattered and how much was removed?

Definitions, for a record :math:`x`, a mask :math:`m` (what is removed) and the masked record
:math:`x^m` (removed samples zeroed and unobserved):

- Reference :math:`F`: a full-view supervised classifier (per-class probabilities).
  :math:`p_0 = F(x)`, :math:`p_o = F(x^m)`.
- Model :math:`G`: :math:`p_G = \mathrm{Platt}(G(x^m))`, G's per-class scores calibrated by Platt
  scaling (:class:`PlattScaler`) fitted on the **validation** split with **full-view** inputs.
- :math:`D(a, b) = \frac{1}{K}\sum_k |a_k - b_k|` (mean absolute difference over the K classes).
- Impact :math:`I(x, m) = D(p_o, p_0) = \frac{1}{K}\sum_k |p_{o,k} - p_{0,k}|`.
- Resolution :math:`R_G(x, m) = \mathrm{clip}\left(1 - \frac{D(p_G, p_0)}{D(\pi, p_0)}, 0, 1\right)`,
  :math:`\pi` the training prevalence vector. R = 1 when G recovers the full-view semantics,
  0 when it does no better than the base rates.
- Severity :math:`S(m)`: the fraction of the :math:`12 \times T` grid the mask removes.

.. math::

    \mathrm{CMRS} = 100 \times \frac{\sum_{x, m} S(m)\, I(x, m)\, R_G(x, m)}{\sum_{x, m} S(m)\, I(x, m)}

summed over all records and all masks. Masks that change nothing (I = 0) or remove nothing (S = 0)
carry no weight.

Edge cases (defined here, tested):

- :math:`D(\pi, p_0) = 0` (the reference's full-view output *is* the base rate, within ``atol``):
  R is the limit of the formula as the denominator goes to 0, i.e. R = 1 when
  :math:`D(p_G, p_0) = 0` as well (within ``atol``) and R = 0 otherwise. No NaN.
- :math:`\sum S \cdot I = 0` (no mask changed the reference at all): CMRS is undefined and
  returned as NaN; the per-record components are still returned.

Per-class CMRS (:meth:`CMRSResult.per_class_scores`): the same score with D replaced by the
absolute difference on class k alone,

.. math::

    I_k = |p_{o,k} - p_{0,k}|, \quad
    R_{G,k} = \mathrm{clip}\left(1 - \frac{|p_{G,k} - p_{0,k}|}{|\pi_k - p_{0,k}|}, 0, 1\right), \quad
    \mathrm{CMRS}_k = 100 \times \frac{\sum_{x, m} S\, I_k\, R_{G,k}}{\sum_{x, m} S\, I_k},

with the same clip and the same :math:`|\pi_k - p_{0,k}| = 0` rule as above, and NaN when
:math:`\sum S I_k = 0`. Since :math:`I = \frac{1}{K}\sum_k I_k`, class k carries the share
:math:`\sum S I_k / \sum_j \sum S I_j` of the overall weight. The overall CMRS is *not* a weighted
mean of the :math:`\mathrm{CMRS}_k` (R is formed from the class-averaged differences); with K = 1
the two coincide.

Confidence interval (:meth:`CMRSResult.bootstrap_ci`): a record-level percentile bootstrap. Records
are drawn with replacement (all masks of a record travel together); a resample that draws record
i :math:`c_i` times scores :math:`100 \sum_i c_i A_i / \sum_i c_i B_i` with
:math:`A_i = \sum_m S I R` and :math:`B_i = \sum_m S I` summed over the record's masks.
Resamples with :math:`\sum_i c_i B_i = 0` are dropped. The draws are those of
:func:`ecgfoundry.eval.metrics.bootstrap_weights`.

Clean agreement and robustness (``cmrs_clean``, ``cmrs_self``, ``cmrs_robust``)
------------------------------------------------------------------------------
R compares G's *masked* prediction with F's *full-view* output, so CMRS mixes two things: how close
G's predictions are to F's when nothing is missing, and how much the mask moves them. A model that
ignores the mask completely (:math:`G(x^m) = G(x)`) still scores whatever its clean agreement with F
is worth. With :math:`q_0 = \mathrm{Platt}(G(x))`, G's calibrated clean-view prediction, two
companion scores use the **same weights** :math:`S \cdot I` (so the same masks count, as much):

- ``cmrs_clean``: R computed from :math:`q_0` in place of :math:`p_G`,
  :math:`R^{clean} = \mathrm{clip}(1 - D(q_0, p_0) / D(\pi, p_0), 0, 1)`. The score G would get if
  the masks changed nothing: clean agreement with F, weighted like CMRS.
- ``cmrs_robust`` :math:`= \mathrm{CMRS} - \mathrm{CMRS}^{clean}`: the part of CMRS the masks are
  responsible for. 0 when G ignores the mask (to float precision); negative when the masks pull G
  away from F's full view (the usual case; -100 at worst); positive when G's masked prediction
  happens to sit closer to F(x) than its clean one.
- ``cmrs_self``: R measured against G's own clean view instead of F's,
  :math:`R^{self} = \mathrm{clip}(1 - D(p_G, q_0) / D(\pi, q_0), 0, 1)` (with the same rule when
  :math:`D(\pi, q_0) = 0`). 100 when the masks never change G's calibrated output; 0 when the
  masked output is no closer to G's clean one than the base rates are. It does not depend on how
  good G is, only on how stable: a constant model scores 100, so read it beside the clean AUROC and
  ``cmrs_clean``.

Known answers (tested): G ignores the mask: ``cmrs == cmrs_clean``, ``cmrs_robust == 0``,
``cmrs_self == 100``. G = F (uncalibrated): ``cmrs_clean == 100``, ``cmrs_self == cmrs``. G
returns F(x) whatever is removed: all three are 100. G returns the base rates: ``cmrs ==
cmrs_clean == 0``, ``cmrs_self == 100``. All four come with record-level bootstrap intervals from
the same resamples (:meth:`CMRSResult.bootstrap_cis`), so the interval of ``cmrs_robust`` is that
of a paired difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ecgfoundry.eval.missingness import apply_mask, severity as mask_severity
from ecgfoundry.eval.predict import ProbabilityFn


# ----------------------------------------------------------------------------- Platt scaling

def _platt_1d(s: np.ndarray, y: np.ndarray, smooth: bool, max_iter: int) -> tuple[float, float]:
    """Fit P(y=1 | s) = 1 / (1 + exp(a s + b)) by Newton's method with backtracking.

    Platt (1999), "Probabilistic outputs for support vector machines", with the numerically
    robust algorithm of Lin, Lin & Weng (2007), "A note on Platt's probabilistic outputs for
    support vector machines", Machine Learning 68:267.
    """
    n_pos = float(y.sum())
    n_neg = float(len(y) - n_pos)
    if smooth:
        t = np.where(y, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    else:
        t = y.astype(np.float64)
    a, b = 0.0, float(np.log((n_neg + 1) / (n_pos + 1)))

    def objective(a_, b_):
        f = s * a_ + b_
        # sum of cross-entropies written stably for both signs of f
        return float(np.sum(np.where(f >= 0, t * f + np.log1p(np.exp(-np.abs(f))),
                                     (t - 1) * f + np.log1p(np.exp(-np.abs(f))))))

    fval = objective(a, b)
    sigma = 1e-12
    for _ in range(max_iter):
        f = s * a + b
        q = 1 / (1 + np.exp(-np.clip(f, -700, 700)))  # 1 - p, where p = P(y=1) = 1 / (1 + e^f)
        p = 1 - q
        d2 = p * q
        h11, h22, h21 = sigma + np.sum(s * s * d2), sigma + np.sum(d2), np.sum(s * d2)
        d1 = t - p
        g1, g2 = np.sum(s * d1), np.sum(d1)
        if abs(g1) < 1e-9 and abs(g2) < 1e-9:
            break
        det = h11 * h22 - h21 * h21
        da = -(h22 * g1 - h21 * g2) / det
        db = -(-h21 * g1 + h11 * g2) / det
        gd = g1 * da + g2 * db
        step = 1.0
        while step >= 1e-10:
            na, nb = a + step * da, b + step * db
            nf = objective(na, nb)
            if nf < fval + 1e-4 * step * gd:
                a, b, fval = na, nb, nf
                break
            step /= 2
        else:
            break  # no decrease possible: at the optimum to machine precision
    return a, b


class PlattScaler(BaseEstimator):
    """Per-class Platt scaling: ``p_k = 1 / (1 + exp(a_k s_k + b_k))``.

    Fit it on the **validation** split with **full-view** inputs; apply it to scores of masked inputs.

    Parameters
    ----------
    smooth_targets : bool
        Platt's regularised targets ``(N+ + 1) / (N+ + 2)`` and ``1 / (N- + 2)`` instead of 1 / 0
        (keeps the fit finite for separable classes and classes with one label value).
    max_iter : int

    Attributes
    ----------
    a_, b_ : ndarray of shape (K,)
    n_classes_ : int
    """

    def __init__(self, smooth_targets: bool = True, max_iter: int = 100):
        self.smooth_targets = smooth_targets
        self.max_iter = max_iter

    def fit(self, scores, labels) -> "PlattScaler":
        s = np.asarray(scores, dtype=np.float64)
        y = np.asarray(labels)
        if s.ndim == 1:
            s, y = s[:, None], y.reshape(-1, 1)
        if s.shape != y.shape:
            raise ValueError(f"scores {s.shape} and labels {y.shape} must both be (N, K)")
        if not np.all(np.isfinite(s)):
            raise ValueError("scores contain NaN or inf")
        if self.max_iter < 1:
            raise ValueError(f"max_iter must be >= 1, got {self.max_iter}")
        params = [_platt_1d(s[:, k], y[:, k].astype(bool), self.smooth_targets, self.max_iter)
                  for k in range(s.shape[1])]
        self.a_ = np.array([p[0] for p in params])
        self.b_ = np.array([p[1] for p in params])
        self.n_classes_ = s.shape[1]
        return self

    def transform(self, scores) -> np.ndarray:
        """Calibrated probabilities, same shape as ``scores`` (..., K)."""
        check_is_fitted(self, ("a_", "b_"))
        s = np.asarray(scores, dtype=np.float64)
        if s.shape[-1] != self.n_classes_:
            raise ValueError(f"scores have {s.shape[-1]} classes, the scaler was fitted on {self.n_classes_}")
        f = np.clip(s * self.a_ + self.b_, -700, 700)
        return 1 / (1 + np.exp(f))

    predict_proba = transform


# ----------------------------------------------------------------------------- the score

def mean_abs_diff(a, b) -> np.ndarray:
    """``D(a, b)``: mean absolute difference over the class axis (last)."""
    return np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).mean(axis=-1)


def resolution(p_model, p0, prevalence, atol: float = 1e-12) -> np.ndarray:
    """``R = clip(1 - D(p_G, p0) / D(pi, p0), 0, 1)``; see the module docstring for D(pi, p0) = 0."""
    d_model = mean_abs_diff(p_model, p0)
    d_prior = mean_abs_diff(np.broadcast_to(prevalence, np.shape(p0)), p0)
    degenerate = d_prior <= atol
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.clip(1 - d_model / np.where(degenerate, 1.0, d_prior), 0, 1)
    return np.where(degenerate, (d_model <= atol).astype(np.float64), r)


SCORES: tuple[str, ...] = ("cmrs", "cmrs_clean", "cmrs_self", "cmrs_robust")
"""The scores of a :class:`CMRSResult` built with G's clean view (see the module docstring)."""

_RESOLUTION = {"cmrs": "resolution", "cmrs_clean": "resolution_clean", "cmrs_self": "resolution_self"}


@dataclass
class CMRSResult:
    """CMRS and the components it is built from.

    Attributes
    ----------
    score : float
        CMRS in [0, 100]; NaN when no mask had weight.
    components : DataFrame
        One row per (record, mask): ``record``, ``mask``, ``severity``, ``impact``, ``resolution``,
        ``d_model`` = D(p_G, p0), ``d_prior`` = D(pi, p0), ``weight`` = S * I; with G's clean view
        also ``resolution_clean``, ``resolution_self``, ``d_clean`` = D(q0, p0), ``d_self`` =
        D(p_G, q0) and ``d_prior_self`` = D(pi, q0).
    class_weight : ndarray of shape (N * M, K), optional
        Per-class weights S * I_k, rows in the order of ``components``.
    class_resolution : ndarray of shape (N * M, K), optional
        Per-class resolutions R_k, rows in the order of ``components``. Both are set by :func:`cmrs`.
    score_clean, score_self : float
        ``cmrs_clean`` and ``cmrs_self`` (NaN when :func:`cmrs` was not given G's clean view, or no
        mask had weight).
    """

    score: float
    components: pd.DataFrame
    class_weight: np.ndarray | None = None
    class_resolution: np.ndarray | None = None
    score_clean: float = float("nan")
    score_self: float = float("nan")

    @property
    def has_clean(self) -> bool:
        """Whether G's clean view was given, so that ``cmrs_clean`` / ``cmrs_self`` exist."""
        return "resolution_clean" in self.components

    @property
    def score_robust(self) -> float:
        """``cmrs_robust = cmrs - cmrs_clean``: the part of CMRS the masks are responsible for."""
        return self.score - self.score_clean

    def scores(self) -> dict[str, float]:
        """``{"cmrs": ...}``, plus ``cmrs_clean``, ``cmrs_self`` and ``cmrs_robust`` when G's clean
        view was given."""
        if not self.has_clean:
            return {"cmrs": self.score}
        return {"cmrs": self.score, "cmrs_clean": self.score_clean, "cmrs_self": self.score_self,
                "cmrs_robust": self.score_robust}

    def per_record(self) -> pd.DataFrame:
        """Components averaged over the masks of each record, with the record's own CMRS."""
        c = self.components.assign(weighted=lambda d: d["weight"] * d["resolution"])
        g = c.groupby("record", sort=True)
        cols = [k for k in c.columns if k not in ("record", "mask", "weighted")]
        out = g[cols].mean()
        with np.errstate(invalid="ignore", divide="ignore"):
            out["cmrs"] = 100 * g["weighted"].sum() / g["weight"].sum()
        return out

    def bootstrap_ci(self, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                     score: str = "cmrs") -> tuple[float, float]:
        """Record-level percentile bootstrap interval of one score (see the module docstring).

        Parameters
        ----------
        n_boot : int
            Resamples; 0 gives ``(nan, nan)``.
        seed : int
        level : float
            Coverage, e.g. 0.95.
        score : {"cmrs", "cmrs_clean", "cmrs_self", "cmrs_robust"}

        Returns
        -------
        (low, high) : tuple of float
            NaN when the score is NaN, ``n_boot`` is 0 or every resample had zero weight.
        """
        return self.bootstrap_cis(n_boot, seed, level, (score,))[score]

    def bootstrap_cis(self, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                      scores: Sequence[str] | None = None) -> dict[str, tuple[float, float]]:
        """Intervals of several scores from the **same** record-level resamples (so the interval of
        ``cmrs_robust`` is that of a paired difference).

        Parameters
        ----------
        n_boot, seed, level : as in :meth:`bootstrap_ci`
        scores : sequence of str, optional
            Default: every score of :meth:`scores`.

        Returns
        -------
        dict
            ``{score: (low, high)}``.
        """
        from ecgfoundry.eval.metrics import bootstrap_weights

        names = tuple(self.scores()) if scores is None else tuple(scores)
        for name in names:
            if name not in SCORES:
                raise ValueError(f"unknown score {name!r}; choose from {', '.join(SCORES)}")
            if name != "cmrs" and not self.has_clean:
                raise ValueError(f"{name} needs G's clean-view predictions (pass p_model_clean to cmrs())")
        if n_boot < 0:
            raise ValueError(f"n_boot must be >= 0, got {n_boot}")
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level}")
        point = self.scores()
        nan = (float("nan"), float("nan"))
        if n_boot == 0:
            return {name: nan for name in names}
        c = self.components
        _, rec = np.unique(c["record"].to_numpy(), return_inverse=True)
        n = int(rec.max()) + 1 if len(rec) else 0
        w = c["weight"].to_numpy(dtype=np.float64)
        counts = bootstrap_weights(n, n_boot, np.random.default_rng(seed))  # (n_boot, n)
        den = counts @ np.bincount(rec, weights=w, minlength=n)
        keep = den > 0

        def numerator(name):
            r = c[_RESOLUTION[name]].to_numpy(dtype=np.float64)
            return counts @ np.bincount(rec, weights=w * r, minlength=n)

        alpha = (1 - level) / 2
        out = {}
        for name in names:
            if not keep.any() or not np.isfinite(point[name]):
                out[name] = nan
                continue
            if name == "cmrs_robust":
                num = numerator("cmrs") - numerator("cmrs_clean")
            else:
                num = numerator(name)
            lo, hi = np.quantile(100 * num[keep] / den[keep], [alpha, 1 - alpha])
            out[name] = (float(lo), float(hi))
        return out

    def per_class_scores(self, classes: Sequence[str] | None = None) -> pd.DataFrame:
        """Per-class CMRS (see the module docstring).

        Parameters
        ----------
        classes : sequence of K str, optional
            Class names (default: ``0 .. K-1``).

        Returns
        -------
        DataFrame
            One row per class: ``class``, ``cmrs`` (NaN where the class had no weight),
            ``weight_share`` (the class's share of the summed per-class weights).
        """
        if self.class_weight is None or self.class_resolution is None:
            raise ValueError("this CMRSResult has no per-class components (build it with cmrs())")
        w, r = self.class_weight, self.class_resolution
        k = w.shape[1]
        names = list(range(k)) if classes is None else list(classes)
        if len(names) != k:
            raise ValueError(f"{len(names)} class names for {k} classes")
        total = w.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            score = np.where(total > 0, 100 * (w * r).sum(axis=0) / np.where(total > 0, total, 1.0), np.nan)
            share = total / total.sum() if total.sum() > 0 else np.full(k, np.nan)
        return pd.DataFrame({"class": names, "cmrs": score, "weight_share": share})


def cmrs(p0, p_masked, p_model, prevalence, severity, atol: float = 1e-12, p_model_clean=None) -> CMRSResult:
    """CMRS from probabilities (see the module docstring for the formula).

    Parameters
    ----------
    p0 : array (N, K)
        Reference on the full view, F(x).
    p_masked : array (N, K) or (N, M, K)
        Reference on the masked views, F(x^m), for M masks per record.
    p_model : array like ``p_masked``
        Calibrated model probabilities on the masked views, Platt(G(x^m)).
    prevalence : array (K,)
        Training prevalence pi.
    severity : array (N,) or (N, M)
        S(m), fraction of the 12 x T grid removed.
    atol : float
        Tolerance for the D(pi, p0) = 0 edge case.
    p_model_clean : array (N, K), optional
        Calibrated model probabilities on the full view, q0 = Platt(G(x)). With it the result also
        holds ``cmrs_clean``, ``cmrs_self`` and ``cmrs_robust`` (module docstring).
    """
    p0 = np.asarray(p0, dtype=np.float64)
    p_masked = np.asarray(p_masked, dtype=np.float64)
    p_model = np.asarray(p_model, dtype=np.float64)
    sev = np.asarray(severity, dtype=np.float64)
    if p0.ndim != 2:
        raise ValueError(f"p0 must be (N, K), got {p0.shape}")
    if p_masked.ndim == 2:
        p_masked, p_model, sev = p_masked[:, None], p_model[:, None], sev.reshape(-1, 1)
    n, m, k = p_masked.shape
    if p_masked.shape != p_model.shape or p0.shape != (n, k) or sev.shape != (n, m):
        raise ValueError(f"shapes do not match: p0 {p0.shape}, p_masked {p_masked.shape}, "
                         f"p_model {p_model.shape}, severity {sev.shape}")
    if p_model_clean is not None:
        q0 = np.asarray(p_model_clean, dtype=np.float64)
        if q0.shape != (n, k):
            raise ValueError(f"p_model_clean must be (N, K) = {(n, k)} like p0, got {q0.shape}")
    prev = np.asarray(prevalence, dtype=np.float64)
    if prev.shape != (k,):
        raise ValueError(f"prevalence must have shape ({k},), got {prev.shape}")
    if np.any(sev < 0) or np.any(sev > 1):
        raise ValueError("severity must lie in [0, 1]")
    p0m = np.broadcast_to(p0[:, None], p_masked.shape)
    imp = mean_abs_diff(p_masked, p0m)
    d_model = mean_abs_diff(p_model, p0m)
    d_prior = np.broadcast_to(mean_abs_diff(np.broadcast_to(prev, p0.shape), p0)[:, None], (n, m))
    res = resolution(p_model, p0m, prev, atol)
    weight = sev * imp
    # per class: D on a single class is the absolute difference (mean over a length-1 axis)
    class_res = resolution(p_model[..., None], p0m[..., None], prev[:, None], atol)
    class_weight = sev[..., None] * mean_abs_diff(p_masked[..., None], p0m[..., None])
    total = weight.sum()

    def score_of(r):
        return float(100 * (weight * r).sum() / total) if total > 0 else float("nan")

    comp = pd.DataFrame({
        "record": np.repeat(np.arange(n), m), "mask": np.tile(np.arange(m), n),
        "severity": sev.ravel(), "impact": imp.ravel(), "resolution": res.ravel(),
        "d_model": d_model.ravel(), "d_prior": d_prior.ravel(), "weight": weight.ravel(),
    })
    result = CMRSResult(score_of(res), comp, class_weight.reshape(n * m, k), class_res.reshape(n * m, k))
    if p_model_clean is not None:
        q0m = np.broadcast_to(q0[:, None], p_masked.shape)
        res_clean = resolution(q0m, p0m, prev, atol)  # G's clean view against F's
        res_self = resolution(p_model, q0m, prev, atol)  # G's masked view against its own clean view
        comp["resolution_clean"] = res_clean.ravel()
        comp["resolution_self"] = res_self.ravel()
        comp["d_clean"] = mean_abs_diff(q0m, p0m).ravel()
        comp["d_self"] = mean_abs_diff(p_model, q0m).ravel()
        comp["d_prior_self"] = np.repeat(mean_abs_diff(np.broadcast_to(prev, q0.shape), q0), m)
        result.score_clean, result.score_self = score_of(res_clean), score_of(res_self)
    return result


def _batched(fn: ProbabilityFn, signal: np.ndarray, observed: np.ndarray, batch_size: int) -> np.ndarray:
    return np.concatenate([np.asarray(fn(signal[a:a + batch_size], observed[a:a + batch_size]), dtype=np.float64)
                           for a in range(0, len(signal), batch_size)])


def evaluate_cmrs(reference: ProbabilityFn, model: ProbabilityFn, calibrator: PlattScaler | None,
                  signal: np.ndarray, observed: np.ndarray, masks: np.ndarray, prevalence,
                  batch_size: int = 256, atol: float = 1e-12) -> CMRSResult:
    """CMRS of ``model`` on test records under given masks, with ``cmrs_clean``, ``cmrs_self`` and
    ``cmrs_robust`` from the model's full-view predictions.

    Parameters
    ----------
    reference : callable
        ``F(signal, observed) -> (B, K)`` probabilities.
    model : callable
        ``G(signal, observed) -> (B, K)`` raw scores (zero-shot cosines, probe logits, ...).
    calibrator : PlattScaler or None
        Fitted on G's **full-view validation** scores; None when G already returns calibrated
        probabilities.
    signal, observed : arrays (N, 12, T)
    masks : bool array (N, 12, T) or (N, M, 12, T)
        What to remove (:mod:`ecgfoundry.eval.missingness`).
    prevalence : array (K,)
        Training prevalence.
    """
    signal = np.asarray(signal, dtype=np.float32)
    observed = np.asarray(observed, dtype=bool)
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim == 3:
        masks = masks[:, None]
    n, m = masks.shape[:2]
    if masks.shape[2:] != signal.shape[1:] or len(signal) != n:
        raise ValueError(f"masks {masks.shape} do not fit signal {signal.shape}")
    p0 = _batched(reference, signal, observed, batch_size)
    q0 = _batched(model, signal, observed, batch_size)
    q0 = calibrator.transform(q0) if calibrator is not None else q0
    p_masked, p_model = [], []
    for j in range(m):
        s, o = apply_mask(signal, observed, masks[:, j])
        p_masked.append(_batched(reference, s, o, batch_size))
        g = _batched(model, s, o, batch_size)
        p_model.append(calibrator.transform(g) if calibrator is not None else g)
    sev = np.stack([mask_severity(masks[:, j]) for j in range(m)], axis=1)
    return cmrs(p0, np.stack(p_masked, axis=1), np.stack(p_model, axis=1), prevalence, sev, atol,
                p_model_clean=q0)
