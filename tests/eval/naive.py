"""Plain re-computations of the evaluation's numbers from their definitions, for the tests to compare
the library's figures with (loops and scikit-learn, none of ecgfoundry's metric code)."""

from __future__ import annotations

import numpy as np


def naive_macro_auroc(y: np.ndarray, scores: np.ndarray) -> float:
    """Mean over the classes with positives and negatives of scikit-learn's ROC AUC."""
    from sklearn.metrics import roc_auc_score

    vals = [roc_auc_score(y[:, k], scores[:, k]) for k in range(y.shape[1]) if 0 < y[:, k].sum() < len(y)]
    return float(np.mean(vals))


def naive_cmrs(p0: np.ndarray, p_masked: np.ndarray, p_model: np.ndarray, prevalence: np.ndarray,
               remove: np.ndarray) -> float:
    """CMRS = 100 sum(S I R) / sum(S I), one record (one mask each) at a time, with S the removed
    fraction of the 12 x T grid, I = mean_k |p_masked - p0|, R = clip(1 - D(p_model, p0) / D(pi, p0), 0, 1)."""
    num = den = 0.0
    for i in range(len(p0)):
        sev = remove[i].sum() / remove[i].size
        imp = np.mean(np.abs(p_masked[i] - p0[i]))
        res = min(max(1 - np.mean(np.abs(p_model[i] - p0[i])) / np.mean(np.abs(prevalence - p0[i])), 0.0), 1.0)
        num, den = num + sev * imp * res, den + sev * imp
    return 100 * num / den


def naive_top1(y: np.ndarray, scores: np.ndarray) -> float:
    """Fraction of the records with a label whose highest score is one of their labels (a loop)."""
    hits = [bool(y[i, int(np.argmax(scores[i]))]) for i in range(len(y)) if y[i].any()]
    return float(np.mean(hits))


def _naive_r(p: np.ndarray, ref: np.ndarray, prevalence: np.ndarray, atol: float = 1e-12) -> float:
    """R = clip(1 - D(p, ref) / D(pi, ref), 0, 1), and 1 / 0 by whether D(p, ref) = 0 when D(pi, ref) = 0."""
    d, d_prior = np.mean(np.abs(p - ref)), np.mean(np.abs(prevalence - ref))
    if d_prior <= atol:
        return float(d <= atol)
    return min(max(1 - d / d_prior, 0.0), 1.0)


def naive_cmrs_parts(p0: np.ndarray, p_masked: np.ndarray, p_model: np.ndarray, p_clean: np.ndarray,
                     prevalence: np.ndarray, sev: np.ndarray) -> dict[str, float]:
    """cmrs, cmrs_clean, cmrs_self and cmrs_robust by a loop over records and masks: one weight
    S I per (record, mask); R from the masked model output against F(x) (cmrs), from the clean model
    output against F(x) (cmrs_clean), from the masked model output against the clean one (cmrs_self).
    ``p_masked``, ``p_model`` are (N, M, K), ``p0``, ``p_clean`` (N, K), ``sev`` (N, M)."""
    num = {"cmrs": 0.0, "cmrs_clean": 0.0, "cmrs_self": 0.0}
    den = 0.0
    for i in range(len(p0)):
        for j in range(p_masked.shape[1]):
            w = sev[i, j] * np.mean(np.abs(p_masked[i, j] - p0[i]))
            num["cmrs"] += w * _naive_r(p_model[i, j], p0[i], prevalence)
            num["cmrs_clean"] += w * _naive_r(p_clean[i], p0[i], prevalence)
            num["cmrs_self"] += w * _naive_r(p_model[i, j], p_clean[i], prevalence)
            den += w
    out = {k: 100 * v / den for k, v in num.items()}
    out["cmrs_robust"] = out["cmrs"] - out["cmrs_clean"]
    return out
