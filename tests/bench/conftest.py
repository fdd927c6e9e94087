"""Tiny synthetic embeddings with a planted signal, and small grids, shared by the bench tests."""

from __future__ import annotations

import numpy as np
import pytest

# Small grids: every classifier still searches over more than one setting where it is cheap.
TEST_GRIDS = {
    "xgboost": {"max_depth": [2], "n_estimators": [20, 40]},
    "decision_tree": {"max_depth": [2, 4]},
    "random_forest": {"n_estimators": [20], "max_depth": [4]},
    "logistic_regression": {"C": [0.1, 1.0]},
    "mlp": {"hidden_layer_sizes": [(16,)], "max_iter": [300]},
}


def planted(n: int = 200, d: int = 16, informative=(2, 5), seed: int = 0, margin: float = 1.0):
    """``X (n, d)`` float32 and balanced ``y``: the class is written with a margin into ``informative`` dims."""
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n // 2)
    X = rng.normal(size=(n, d)).astype(np.float32)
    sign = np.where(y == 1, 1.0, -1.0)
    for j in informative:
        X[:, j] = sign * (margin + np.abs(rng.normal(size=n)))
    return X, y


@pytest.fixture
def planted_data():
    return planted()
