"""The five probe classifiers of the holistic benchmark, their grids, and fold-level evaluation.

Filice et al., "Looking Beyond Accuracy: A Holistic Benchmark of ECG Foundation Models"
(arXiv 2601.21830) probe frozen embeddings with XGBoost, a decision tree, a random forest,
logistic regression and an MLP, each tuned by grid search inside a class-balanced stratified
k-fold cross-validation (k = 15), and report the median F1 over folds with its IQR.

Protocol implemented here
-------------------------
* Outer CV: ``StratifiedKFold(k, shuffle=True, random_state=seed)`` on the binary label, or
  ``StratifiedGroupKFold`` when patient groups are given, so one patient's records never sit on
  both sides of a split.
* Inner grid search: ``GridSearchCV`` with a stratified ``inner_k``-fold CV (default 3) on the
  **training folds only**, scored by F1; the best setting is refitted on all training folds and
  scored once on the held-out fold. The evaluation fold never enters the search.
* Class balance: every classifier is fitted with balanced sample weights
  (``n / (2 * n_class)`` per record, the same as ``class_weight="balanced"``), computed from the
  training data it is fitted on. One mechanism for all five (XGBoost's ``scale_pos_weight``
  and the MLP's missing ``class_weight`` need no special cases).
* Metric: F1 of the positive class (``zero_division=0``).
* Logistic regression and the MLP see standardised features (a ``StandardScaler`` inside the
  pipeline, fitted on the training data only); trees see raw features.

Default grids (small on purpose; override per classifier with ``grids={"mlp": {...}}``):

==================== =============================================================== ======
classifier           grid                                                            fits
==================== =============================================================== ======
xgboost              max_depth 3, 6; n_estimators 100, 300 (learning_rate 0.1)       4
decision_tree        max_depth 4, 8, None (min_samples_leaf 5)                       3
random_forest        max_depth 10, None (200 trees, max_features sqrt)               2
logistic_regression  C 0.01, 0.1, 1, 10 (lbfgs, max_iter 2000)                       4
mlp                  hidden (128,), (256, 128); alpha 1e-3, 1e-1 (adam, early         4
                     stopping: 10 % of the training data held out, patience 10,
                     at most 200 epochs)
==================== =============================================================== ======

The MLP stops early on a validation split drawn from the data it is fitted on (inside the
training folds, never the evaluation fold): on 1,000 x 128 embeddings this cut one grid search
from ~7 s to ~2 s with the same grid (``early_stopping`` is part of the grid, so results computed
without it keep their own job keys). A fit whose held-out part would hold fewer than 20 records
of a class (about 200 training records per class) trains without early stopping: on a few held-out
records the validation accuracy stalls after a handful of epochs (:mod:`ecgfoundry.bench._mlp`).

:data:`GRID_PRESETS` names grids: ``default`` (above) and ``fast``, a reduced grid for budgeted
runs (one tree count per ensemble, 100 trees; a single MLP ``alpha``), each classifier keeping
at least two settings:

==================== ===============================================================
classifier           ``fast`` grid
==================== ===============================================================
xgboost              max_depth 3, 6; n_estimators 100
decision_tree        max_depth 4, 8, None
random_forest        max_depth 10, None; n_estimators 100
logistic_regression  C 0.01, 0.1, 1, 10
mlp                  hidden (128,), (256, 128); alpha 1e-3; early stopping
==================== ===============================================================
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

CLASSIFIERS: tuple[str, ...] = ("xgboost", "decision_tree", "random_forest", "logistic_regression", "mlp")

DEFAULT_GRIDS: dict[str, dict[str, list]] = {
    "xgboost": {"max_depth": [3, 6], "n_estimators": [100, 300]},
    "decision_tree": {"max_depth": [4, 8, None]},
    "random_forest": {"max_depth": [10, None]},
    "logistic_regression": {"C": [0.01, 0.1, 1.0, 10.0]},
    "mlp": {"hidden_layer_sizes": [(128,), (256, 128)], "alpha": [1e-3, 1e-1], "early_stopping": [True]},
}

FAST_GRIDS: dict[str, dict[str, list]] = {
    "xgboost": {"max_depth": [3, 6], "n_estimators": [100]},
    "decision_tree": {"max_depth": [4, 8, None]},
    "random_forest": {"max_depth": [10, None], "n_estimators": [100]},
    "logistic_regression": {"C": [0.01, 0.1, 1.0, 10.0]},
    "mlp": {"hidden_layer_sizes": [(128,), (256, 128)], "alpha": [1e-3], "early_stopping": [True]},
}

GRID_PRESETS: dict[str, dict[str, dict[str, list]]] = {"default": DEFAULT_GRIDS, "fast": FAST_GRIDS}


class TooFewRecords(ValueError):
    """A class has too few records for the requested (outer or inner) cross-validation."""


def _xgboost(seed: int, n_jobs: int):
    from xgboost import XGBClassifier

    return XGBClassifier(learning_rate=0.1, tree_method="hist", n_jobs=n_jobs, random_state=seed,
                         eval_metric="logloss", verbosity=0)


def _decision_tree(seed: int, n_jobs: int):
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(min_samples_leaf=5, random_state=seed)


def _random_forest(seed: int, n_jobs: int):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=200, max_features="sqrt", n_jobs=n_jobs, random_state=seed)


def _logistic_regression(seed: int, n_jobs: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("scale", StandardScaler()),
                     ("clf", LogisticRegression(max_iter=2000, random_state=seed))])


def _mlp(seed: int, n_jobs: int):
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from ecgfoundry.bench._mlp import EarlyStoppingMLP

    return Pipeline([("scale", StandardScaler()),
                     ("clf", EarlyStoppingMLP(max_iter=200, early_stopping=True, validation_fraction=0.1,
                                              n_iter_no_change=10, random_state=seed))])


@dataclass(frozen=True)
class ProbeSpec:
    """How to build one probe: ``factory(seed, n_jobs)`` -> unfitted estimator, and its grid.

    ``step`` names the pipeline step the grid and the sample weights go to (``None`` = the estimator
    itself).
    """

    name: str
    factory: Callable[[int, int], Any]
    step: str | None = None


PROBES: dict[str, ProbeSpec] = {
    "xgboost": ProbeSpec("xgboost", _xgboost),
    "decision_tree": ProbeSpec("decision_tree", _decision_tree),
    "random_forest": ProbeSpec("random_forest", _random_forest),
    "logistic_regression": ProbeSpec("logistic_regression", _logistic_regression, step="clf"),
    "mlp": ProbeSpec("mlp", _mlp, step="clf"),
}


def list_probes() -> list[str]:
    return list(PROBES)


def resolve_grid(classifier: str, grids: Mapping[str, Mapping[str, Sequence]] | None = None
                 ) -> tuple[tuple[str, tuple], ...]:
    """The grid of ``classifier`` (override or default) as a hashable, sorted tuple of (param, values)."""
    if classifier not in PROBES:
        raise KeyError(f"unknown classifier {classifier!r}; available: {', '.join(PROBES)}")
    grid = (grids or {}).get(classifier, DEFAULT_GRIDS.get(classifier, {}))
    out = []
    for k, v in sorted(grid.items()):
        values = tuple(tuple(x) if isinstance(x, list) else x for x in (v if isinstance(v, (list, tuple)) else [v]))
        if not values:
            raise ValueError(f"{classifier}: empty grid for {k}")
        out.append((k, values))
    return tuple(out)


def balanced_weights(y: np.ndarray) -> np.ndarray:
    """Per-record weights ``n / (2 * n_class)``: both classes weigh the same in total."""
    y = np.asarray(y).astype(int)
    counts = np.bincount(y, minlength=2).astype(float)
    return (len(y) / (2.0 * np.maximum(counts, 1.0)))[y]


def outer_folds(y: np.ndarray, k: int, seed: int, groups: np.ndarray | None = None
                ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified (group-aware when ``groups`` is given) k-fold splits ``[(train_idx, test_idx), ...]``."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    y = np.asarray(y).astype(int)
    if min(np.bincount(y, minlength=2)) < k:
        raise TooFewRecords(f"stratified {k}-fold CV needs at least {k} records of each class, "
                         f"got {np.bincount(y, minlength=2).tolist()}")
    if groups is None:
        cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        return list(cv.split(np.zeros(len(y)), y))
    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(cv.split(np.zeros(len(y)), y, groups))


def make_search(classifier: str, grid: tuple[tuple[str, tuple], ...], inner_k: int, seed: int,
                n_jobs: int = 1, grouped: bool = False):
    """An unfitted ``GridSearchCV`` for ``classifier`` scored by F1."""
    from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold, StratifiedKFold

    spec = PROBES[classifier]
    est = spec.factory(seed, n_jobs)
    prefix = f"{spec.step}__" if spec.step else ""
    param_grid = {prefix + k: list(vals) for k, vals in grid}
    inner = (StratifiedGroupKFold if grouped else StratifiedKFold)(n_splits=inner_k, shuffle=True,
                                                                   random_state=seed)
    return GridSearchCV(est, param_grid or {}, scoring="f1", cv=inner, refit=True, n_jobs=1,
                        error_score="raise")


def fit_probe(classifier: str, X: np.ndarray, y: np.ndarray, grid=None, inner_k: int = 3, seed: int = 0,
              n_jobs: int = 1, groups: np.ndarray | None = None):
    """Grid-search ``classifier`` on ``(X, y)`` (balanced weights) and return the fitted search.

    Everything it learns comes from ``X`` and ``y``: pass training data only.
    """
    grid = resolve_grid(classifier) if grid is None else grid
    y = np.asarray(y).astype(int)
    spec = PROBES[classifier]
    inner_k = int(min(inner_k, min(np.bincount(y, minlength=2))))
    if groups is not None:  # a grouped inner fold needs a patient of each class on both sides
        g = np.asarray(groups)
        inner_k = int(min(inner_k, *(len(np.unique(g[y == c])) for c in (0, 1))))
    if inner_k < 2:
        raise TooFewRecords(f"{classifier}: the training data needs at least 2 records (and patients) of each "
                            f"class, got {np.bincount(y, minlength=2).tolist()} records")
    search = make_search(classifier, grid, inner_k, seed, n_jobs, grouped=groups is not None)
    weight_key = f"{spec.step}__sample_weight" if spec.step else "sample_weight"
    fit_params = {weight_key: balanced_weights(y)}
    if groups is not None:
        fit_params["groups"] = np.asarray(groups)
    search.fit(np.asarray(X, dtype=np.float32), y, **fit_params)
    return search


@dataclass(frozen=True)
class FoldResult:
    """Outcome of one outer fold."""

    f1: float
    best_params: dict
    inner_f1: float
    n_train: int
    n_test: int
    n_test_pos: int
    seconds: float


def evaluate_fold(classifier: str, X: np.ndarray, y: np.ndarray, train_idx: np.ndarray, test_idx: np.ndarray,
                  grid=None, inner_k: int = 3, seed: int = 0, n_jobs: int = 1,
                  groups: np.ndarray | None = None) -> FoldResult:
    """Tune ``classifier`` on ``X[train_idx]`` only, then score F1 once on ``X[test_idx]``."""
    from sklearn.metrics import f1_score

    train_idx, test_idx = np.asarray(train_idx), np.asarray(test_idx)
    if np.intersect1d(train_idx, test_idx).size:
        raise ValueError("training and evaluation folds overlap")
    y = np.asarray(y).astype(int)
    start = time.perf_counter()
    search = fit_probe(classifier, X[train_idx], y[train_idx], grid, inner_k, seed, n_jobs,
                       None if groups is None else np.asarray(groups)[train_idx])
    pred = search.predict(np.asarray(X[test_idx], dtype=np.float32))
    f1 = float(f1_score(y[test_idx], pred, zero_division=0))
    spec = PROBES[classifier]
    prefix = f"{spec.step}__" if spec.step else ""
    params = {k[len(prefix):] if k.startswith(prefix) else k: (list(v) if isinstance(v, tuple) else v)
              for k, v in search.best_params_.items()}
    return FoldResult(f1, params, float(search.best_score_), len(train_idx), len(test_idx),
                      int(y[test_idx].sum()), round(time.perf_counter() - start, 4))


SUMMARY_KEYS: tuple[str, ...] = ("model", "dataset", "pooling", "size", "task", "classifier")


def summarize_folds(results, by: Sequence[str] = SUMMARY_KEYS):
    """Median F1 and IQR over folds per group.

    Parameters
    ----------
    results : DataFrame
        One row per fold with an ``f1`` column and the ``by`` columns.

    Returns
    -------
    DataFrame with ``by`` columns, ``f1_median``, ``f1_q25``, ``f1_q75``, ``f1_iqr``, ``n_folds``
    (folds with a score: a fold that could not be fitted has ``f1`` NaN and is left out).
    """
    import pandas as pd

    by = [c for c in by if c in results.columns]
    g = results.groupby(by, sort=True, dropna=False)["f1"]
    out = pd.DataFrame({"f1_median": g.median(), "f1_q25": g.quantile(0.25), "f1_q75": g.quantile(0.75),
                        "n_folds": g.count()}).reset_index()
    out["f1_iqr"] = out["f1_q75"] - out["f1_q25"]
    return out[by + ["f1_median", "f1_iqr", "f1_q25", "f1_q75", "n_folds"]]


def best_classifiers(summary, by: Sequence[str] = ("model", "dataset")):
    """The best classifier per group of ``by`` (default: per model and dataset).

    A classifier's score in a group is the mean of its median F1 over the group's other cells
    (poolings, sizes, tasks); ties go to the smaller mean IQR, then to the name.

    Returns
    -------
    DataFrame with ``by``, ``classifier``, ``f1_median_mean``, ``f1_iqr_mean``, ``n_cells``.
    """
    by = [c for c in by if c in summary.columns]
    agg = (summary.groupby(by + ["classifier"], sort=True)
           .agg(f1_median_mean=("f1_median", "mean"), f1_iqr_mean=("f1_iqr", "mean"),
                n_cells=("f1_median", "size")).reset_index())
    agg = agg.sort_values(by + ["f1_median_mean", "f1_iqr_mean", "classifier"],
                          ascending=[True] * len(by) + [False, True, True])
    return agg.groupby(by, sort=True).head(1).reset_index(drop=True)
