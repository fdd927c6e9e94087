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


def test_shared_feature_rate_hand_made():
    tops = {"a": range(0, 50), "b": range(25, 75), "c": range(40, 90)}
    pairs, summary = shared_feature_rate(tops)
    rate = {(r.dataset_a, r.dataset_b): r.rate for r in pairs.itertuples()}
    assert rate == {("a", "b"): 0.5, ("a", "c"): 0.2, ("b", "c"): 0.7}
    assert summary["mean_pairwise_rate"] == pytest.approx((0.5 + 0.2 + 0.7) / 3)
    assert summary["shared_by_all"] == 10 and summary["shared_by_all_rate"] == pytest.approx(0.2)
    with pytest.raises(ValueError):
        shared_feature_rate({"a": [1, 2]})
