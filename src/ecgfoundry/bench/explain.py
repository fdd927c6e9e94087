"""SHAP top features of one probe explained on several datasets, and how many of them datasets share.

Filice et al. (arXiv 2601.21830, Algorithm 1) take one classifier, C_i*, the best classifier of
the best dataset i*, explain it with SHAP on every dataset, keep its 50 most important embedding
dimensions on each, and measure how much these top-50 sets overlap across datasets: when the same
classifier leans on the same dimensions whatever data it sees, the model encodes the condition in
a dataset-independent way. (Explaining each dataset's own classifier instead would compare
different functions, and is not the paper's measure.)

Top-k with zero importances: only features with a non-zero importance count toward a top-k
(:func:`top_features`). A decision tree that splits on 7 of 64 dimensions has a top-50 of 7
features, not 7 plus the 43 lowest-numbered unused dimensions (which any two such trees would
"share"). A top-k may therefore hold fewer than k features. The pairwise rate keeps the nominal
``k`` as its denominator, ``|A & B| / k``: a missing feature counts as not shared, so a set of
``m < k`` features shares at most ``m / k`` (:func:`shared_feature_rate`, which also reports the
set sizes and the chance rate of random sets of those sizes, ``|A| |B| / (D k)``).

Importance of a feature = mean absolute SHAP value over the explained records (for the positive
class). Explainers, by classifier:

* xgboost, decision_tree, random_forest: ``shap.TreeExplainer`` (exact, path-dependent);
* logistic_regression: ``shap.LinearExplainer`` on the standardised features, with the training
  data as background (standardisation is per feature, so dimensions keep their index);
* mlp (and anything else): ``shap.PermutationExplainer`` on ``predict_proba[:, 1]`` with a
  background sample of ``background`` records and the minimal ``2 * D + 1`` evaluations per record
  (one forward and one backward pass over a random feature order), at most
  ``max_explain_permutation`` records.

At most ``max_explain`` records are explained (seeded sample) and ``background`` records form the
background, so the cost stays bounded. shap is imported inside the functions.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any, Mapping, Sequence

import numpy as np

TREE_PROBES = ("xgboost", "decision_tree", "random_forest")


def _positive(values: Any) -> np.ndarray:
    """SHAP values for the positive class as ``(n, D)``, whatever layout shap returned."""
    if hasattr(values, "values"):
        values = values.values
    if isinstance(values, list):
        values = values[-1]
    values = np.asarray(values)
    if values.ndim == 3:
        values = values[..., -1]
    return values


def _sample(n: int, m: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(n, size=m, replace=False)) if n > m else np.arange(n)


def shap_importance(estimator: Any, X: np.ndarray, classifier: str, background: int = 100,
                    max_explain: int = 500, seed: int = 0, max_explain_permutation: int = 200) -> np.ndarray:
    """Mean |SHAP| per feature ``(D,)`` of a fitted probe on records ``X`` ``(N, D)``.

    Parameters
    ----------
    estimator : fitted estimator or GridSearchCV
        A probe from :func:`ecgfoundry.bench.probes.fit_probe` (its ``best_estimator_`` is used).
    X : ndarray of shape (N, D)
        Records to explain (typically the data the probe was fitted on).
    classifier : str
        Which probe it is (chooses the explainer).
    background, max_explain : int
        Background sample size and the most records explained.
    max_explain_permutation : int
        The most records explained by the (slower) permutation explainer: about 0.1 s per record
        for D = 256 with a background of 50.
    seed : int
    """
    import shap

    est = getattr(estimator, "best_estimator_", estimator)
    X = np.asarray(X, dtype=np.float32)
    rng = np.random.default_rng(seed)
    if classifier not in TREE_PROBES and classifier != "logistic_regression":
        max_explain = min(max_explain, max_explain_permutation)
    Xe = X[_sample(len(X), max_explain, rng)]
    Xb = X[_sample(len(X), background, rng)]
    if classifier in TREE_PROBES:
        values = shap.TreeExplainer(est).shap_values(Xe, check_additivity=False)
    elif classifier == "logistic_regression":
        scale, clf = est.named_steps["scale"], est.named_steps["clf"]
        explainer = shap.LinearExplainer(clf, shap.maskers.Independent(scale.transform(Xb), max_samples=background))
        values = explainer.shap_values(scale.transform(Xe))
    else:
        f = lambda Z: est.predict_proba(np.asarray(Z, dtype=np.float32))[:, 1]  # noqa: E731
        explainer = shap.PermutationExplainer(f, shap.maskers.Independent(Xb, max_samples=background), seed=seed)
        values = explainer(Xe, max_evals=2 * X.shape[1] + 1, silent=True)
    values = _positive(values)
    if values.shape != Xe.shape:
        raise ValueError(f"SHAP values of shape {values.shape} for {Xe.shape} records")
    return np.abs(values).mean(axis=0)


def top_features(importance: np.ndarray, k: int = 50) -> np.ndarray:
    """Indices of the at most ``k`` most important features, most important first.

    Only features with a finite, non-zero importance count: the result holds fewer than ``k``
    indices when fewer features have any importance (zero-importance features are never used to
    fill a top-k). Exact ties among non-zero importances go to the lower index.

    Examples
    --------
    >>> top_features(np.array([0.0, 0.5, 0.0, 0.2, 0.0]), k=3).tolist()
    [1, 3]
    """
    importance = np.asarray(importance, dtype=float)
    if importance.ndim != 1:
        raise ValueError(f"importance must be (D,), got shape {importance.shape}")
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    order = np.lexsort((np.arange(len(importance)), -np.abs(np.nan_to_num(importance))))
    keep = order[np.isfinite(importance[order]) & (importance[order] != 0)]
    return keep[:k]


def shared_feature_rate(tops: Mapping[str, Sequence[int]], k: int | None = None, dim: int | None = None):
    """Overlap of top-k feature sets across datasets.

    Parameters
    ----------
    tops : dict dataset -> indices of its top-k features (possibly fewer than k, see the module
        docstring)
    k : int, optional
        The nominal set size the overlaps are divided by (default: the size of the largest set).
    dim : int, optional
        Number of features D; with it, each pair gets the rate two random sets of the same sizes
        would have, ``|A| |B| / (D k)``.

    Returns
    -------
    pairs : DataFrame
        One row per pair: ``dataset_a``, ``dataset_b``, ``shared`` (``|A & B|``), ``rate``
        (``|A & B| / k``), ``n_a``, ``n_b`` (set sizes), ``chance`` (NaN without ``dim``).
    summary : dict
        ``mean_pairwise_rate`` (mean of the pairwise rates: the overall rate of shared features),
        ``mean_chance_rate``, ``shared_by_all`` (``|A & B & ...|``), ``shared_by_all_rate``
        (divided by k), ``k``, ``min_set_size``.

    Examples
    --------
    >>> pairs, summary = shared_feature_rate({"a": [1, 2, 3], "b": [2, 3, 4, 5]}, k=5)
    >>> float(pairs.rate[0]), summary["shared_by_all"]
    (0.4, 2)
    """
    import pandas as pd

    sets = {d: set(int(i) for i in v) for d, v in tops.items()}
    if len(sets) < 2:
        raise ValueError("shared features need at least two datasets")
    k = k or max(max(len(s) for s in sets.values()), 1)
    if any(len(s) > k for s in sets.values()):
        raise ValueError(f"a top-k set holds more than k = {k} features")
    rows = []
    for a, b in combinations(sorted(sets), 2):
        shared = len(sets[a] & sets[b])
        chance = len(sets[a]) * len(sets[b]) / (dim * k) if dim else float("nan")
        rows.append({"dataset_a": a, "dataset_b": b, "shared": shared, "rate": shared / k,
                     "n_a": len(sets[a]), "n_b": len(sets[b]), "chance": chance})
    pairs = pd.DataFrame(rows)
    common = set.intersection(*sets.values())
    return pairs, {"mean_pairwise_rate": float(pairs["rate"].mean()),
                   "mean_chance_rate": float(pairs["chance"].mean()) if dim else float("nan"),
                   "shared_by_all": len(common), "shared_by_all_rate": len(common) / k, "k": k,
                   "min_set_size": min(len(s) for s in sets.values())}


def explain_best(X: np.ndarray, y: np.ndarray, classifier: str, grid=None, inner_k: int = 3, seed: int = 0,
                 k: int = 50, background: int = 100, max_explain: int = 500) -> dict[str, Any]:
    """Fit ``classifier`` (grid search, balanced) on ``(X, y)``, explain it, return its top-k features.

    Returns
    -------
    dict with ``importance`` ``(D,)``, ``top`` (indices, most important first; only non-zero
    importances), ``best_params`` and ``estimator`` (the fitted search).
    """
    from ecgfoundry.bench.probes import fit_probe

    search = fit_probe(classifier, X, y, grid=grid, inner_k=inner_k, seed=seed)
    imp = shap_importance(search, X, classifier, background=background, max_explain=max_explain, seed=seed)
    return {"importance": imp, "top": top_features(imp, k), "best_params": search.best_params_,
            "estimator": search}


def explain_across(estimator: Any, data: Mapping[str, np.ndarray], classifier: str, k: int = 50,
                   background: int = 100, max_explain: int = 500, seed: int = 0) -> dict[str, dict[str, Any]]:
    """Explain one fitted probe (the paper's C_i*) on every dataset: importances and top-k per dataset.

    Parameters
    ----------
    estimator : fitted estimator or GridSearchCV
        The one classifier explained everywhere (fitted on the best dataset).
    data : dict dataset -> records ``(N, D)`` to explain (each dataset's own records also form the
        SHAP background of that dataset)
    classifier : str
        Which probe it is (chooses the explainer).

    Returns
    -------
    dict dataset -> ``{"importance": (D,), "top": indices}``
    """
    out = {}
    for dataset, X in data.items():
        imp = shap_importance(estimator, X, classifier, background=background, max_explain=max_explain, seed=seed)
        out[dataset] = {"importance": imp, "top": top_features(imp, k)}
    return out
