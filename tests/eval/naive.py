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
