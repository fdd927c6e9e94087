"""Probe classifiers: known answers on planted / random data, no leakage, summaries."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

for _m in ('sklearn', 'xgboost'):
    pytest.importorskip(_m, reason="the bench extra is not installed (pip install -e '.[bench]')")

from sklearn.base import BaseEstimator, ClassifierMixin

from ecgfoundry.bench import probes
from ecgfoundry.bench.probes import (CLASSIFIERS, balanced_weights, best_classifiers, evaluate_fold, outer_folds,
                                     resolve_grid, summarize_folds)

from .conftest import TEST_GRIDS, planted


def _cv(classifier, X, y, k=3, seed=0):
    grid = resolve_grid(classifier, TEST_GRIDS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLP convergence on tiny data
        return [evaluate_fold(classifier, X, y, tr, te, grid=grid, inner_k=3, seed=seed)
                for tr, te in outer_folds(y, k, seed)]


@pytest.mark.parametrize("classifier", CLASSIFIERS)
def test_planted_signal_gives_f1_near_one(classifier, planted_data):
    X, y = planted_data
    res = _cv(classifier, X, y)
    assert np.median([r.f1 for r in res]) >= 0.95
    assert all(r.n_train + r.n_test == len(y) for r in res)
    assert set(res[0].best_params) == set(TEST_GRIDS[classifier])


@pytest.mark.parametrize("classifier", ["logistic_regression", "random_forest"])
def test_random_labels_give_chance_f1(classifier):
    X, _ = planted(n=300, seed=1)
    y = np.random.default_rng(7).permutation(np.tile([0, 1], 150))
    f1 = np.median([r.f1 for r in _cv(classifier, X, y)])
    assert 0.2 < f1 < 0.7


def test_outer_folds_stratified_and_grouped():
    y = np.tile([0, 0, 0, 1], 30)
    folds = outer_folds(y, 3, seed=0)
    for tr, te in folds:
        assert abs(y[te].mean() - 0.25) < 0.05 and not np.intersect1d(tr, te).size
    assert np.array_equal(np.sort(np.concatenate([te for _, te in folds])), np.arange(len(y)))
    groups = np.repeat(np.arange(60), 2)
    y2 = np.repeat(np.tile([0, 1], 30), 2)
    for tr, te in outer_folds(y2, 3, 0, groups):
        assert not set(groups[tr]) & set(groups[te])
    with pytest.raises(ValueError, match="at least 15"):
        outer_folds(np.r_[np.ones(10), np.zeros(100)], 15, 0)


SEEN: list[np.ndarray] = []


class SpyClassifier(ClassifierMixin, BaseEstimator):
    """Records the row ids (column 0) of everything it is fitted on."""

    def __init__(self, param=1):
        self.param = param

    def fit(self, X, y, sample_weight=None):
        SEEN.append(np.asarray(X[:, 0]).astype(int))
        assert sample_weight is not None and len(sample_weight) == len(X)
        self.classes_ = np.array([0, 1])
        return self

    def predict(self, X):
        return np.zeros(len(X), int)


def test_evaluation_fold_never_enters_the_grid_search(monkeypatch):
    monkeypatch.setitem(probes.PROBES, "spy", probes.ProbeSpec("spy", lambda seed, n_jobs: SpyClassifier()))
    SEEN.clear()
    n = 90
    X = np.c_[np.arange(n), np.random.default_rng(0).normal(size=(n, 3))].astype(np.float32)
    y = np.tile([0, 1], n // 2)
    tr, te = outer_folds(y, 3, 0)[1]
    evaluate_fold("spy", X, y, tr, te, grid=(("param", (1, 2)),), inner_k=3)
    assert len(SEEN) == 2 * 3 + 1  # 2 settings x 3 inner folds + the refit
    seen = np.concatenate(SEEN)
    assert not np.isin(seen, te).any()
    assert set(SEEN[-1]) == set(tr)  # refit on all training folds
    with pytest.raises(ValueError, match="overlap"):
        evaluate_fold("spy", X, y, tr, np.r_[te, tr[:1]], grid=(("param", (1,)),))


def test_balanced_weights():
    w = balanced_weights(np.array([1, 0, 0, 0]))
    assert np.allclose(w, [2.0, 2 / 3, 2 / 3, 2 / 3])
    assert np.isclose(w[:1].sum(), w[1:].sum())


def test_resolve_grid_is_hashable_and_overridable():
    g = resolve_grid("mlp")
    hash(g)
    assert dict(g)["hidden_layer_sizes"] == ((128,), (256, 128))
    assert resolve_grid("decision_tree", {"decision_tree": {"max_depth": 3}}) == (("max_depth", (3,)),)
    with pytest.raises(KeyError):
        resolve_grid("svm")


def test_summary_median_iqr_and_best():
    rows = []
    for clf, f1s in {"a": [0.1, 0.2, 0.3, 0.4, 0.5], "b": [0.6, 0.6, 0.7, 0.8, 0.8]}.items():
        rows += [{"model": "m", "dataset": "d", "pooling": "max", "size": "XS", "task": "AF", "classifier": clf,
                  "fold": i, "f1": f} for i, f in enumerate(f1s)]
    s = summarize_folds(pd.DataFrame(rows))
    a = s.set_index("classifier").loc["a"]
    assert a.f1_median == pytest.approx(0.3) and a.f1_iqr == pytest.approx(0.2) and a.n_folds == 5
    best = best_classifiers(s)
    assert best.classifier.tolist() == ["b"] and best.f1_median_mean.iloc[0] == pytest.approx(0.7)
