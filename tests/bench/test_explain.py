"""SHAP top features recover planted dimensions; shared-feature rates on hand-made sets."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

for _m in ('sklearn', 'shap', 'xgboost'):
    pytest.importorskip(_m, reason="the bench extra is not installed (pip install -e '.[bench]')")


from ecgfoundry.bench.explain import explain_best, shared_feature_rate, top_features
from ecgfoundry.bench.probes import resolve_grid

from .conftest import TEST_GRIDS

pytest.importorskip("xgboost")

INFORMATIVE = (2, 5, 11)


@pytest.mark.parametrize("classifier", ["xgboost", "random_forest", "decision_tree", "logistic_regression", "mlp"])
def test_shap_top_features_recover_planted_dims(classifier):
    # the class is the sign of a sum of the informative dims: every one of them is needed
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 16)).astype(np.float32)
    y = (X[:, list(INFORMATIVE)].sum(axis=1) > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = explain_best(X, y, classifier, grid=resolve_grid(classifier, TEST_GRIDS), k=5,
                           background=20, max_explain=40)
    assert out["importance"].shape == (16,)
    top = list(out["top"])
    assert set(top[:3]) == set(INFORMATIVE), top


def test_top_features_order_and_ties():
    assert top_features(np.array([0.1, 0.5, 0.5, 0.0, 0.3]), k=3).tolist() == [1, 2, 4]
    assert len(top_features(np.ones(10), k=50)) == 10


def test_zero_importance_never_fills_a_top_k():
    # old behaviour: ties at zero went to the lowest index, so [1, 3] was padded with 0
    assert top_features(np.array([0.0, 0.5, 0.0, 0.2, 0.0]), k=3).tolist() == [1, 3]
    assert top_features(np.zeros(8), k=5).tolist() == []


def test_shared_feature_rate_hand_made():
    tops = {"a": range(0, 50), "b": range(25, 75), "c": range(40, 90)}
    pairs, summary = shared_feature_rate(tops)
    rate = {(r.dataset_a, r.dataset_b): r.rate for r in pairs.itertuples()}
    assert rate == {("a", "b"): 0.5, ("a", "c"): 0.2, ("b", "c"): 0.7}
    assert summary["mean_pairwise_rate"] == pytest.approx((0.5 + 0.2 + 0.7) / 3)
    assert summary["shared_by_all"] == 10 and summary["shared_by_all_rate"] == pytest.approx(0.2)
    with pytest.raises(ValueError):
        shared_feature_rate({"a": [1, 2]})


def test_shared_feature_rate_of_short_top_k_sets_known_answer():
    # sets shorter than k: the rate keeps k as denominator (a missing feature is not shared)
    pairs, summary = shared_feature_rate({"a": [1, 2, 3], "b": [2, 3, 4, 5], "c": []}, k=5, dim=10)
    got = {(r.dataset_a, r.dataset_b): (r.shared, r.rate, r.chance) for r in pairs.itertuples()}
    assert got[("a", "b")] == (2, pytest.approx(0.4), pytest.approx(3 * 4 / (10 * 5)))
    assert got[("a", "c")] == (0, 0.0, 0.0) and got[("b", "c")] == (0, 0.0, 0.0)
    assert summary["mean_pairwise_rate"] == pytest.approx(0.4 / 3)
    assert summary["shared_by_all"] == 0 and summary["min_set_size"] == 0
    with pytest.raises(ValueError, match="more than k"):
        shared_feature_rate({"a": [1, 2, 3], "b": [1]}, k=2)


def test_trees_on_pure_noise_do_not_share_their_top_k():
    """Two shallow trees fitted on independent noise (D = 64) use a handful of dimensions each; the old
    zero-tie fill gave them ~45 "shared" features of their top 50."""
    from ecgfoundry.bench.explain import shap_importance
    from ecgfoundry.bench.probes import fit_probe

    tops = {}
    for seed in (0, 1):
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(200, 64)).astype(np.float32)
        y = rng.integers(0, 2, size=200)
        est = fit_probe("decision_tree", X, y, grid=resolve_grid("decision_tree", {"decision_tree": {"max_depth": [3]}}),
                        inner_k=2, seed=seed)
        imp = shap_importance(est, X, "decision_tree", max_explain=200, seed=seed)
        tops[str(seed)] = top_features(imp, k=50)
    assert all(len(t) <= 7 for t in tops.values())  # a depth-3 tree splits on at most 7 dimensions
    pairs, _ = shared_feature_rate(tops, k=50, dim=64)
    assert pairs.rate[0] <= 7 / 50 and pairs.rate[0] < 0.2
