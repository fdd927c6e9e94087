"""Linear probe: sklearn conventions, early stopping on the best validation epoch, size runs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from ecgfoundry.eval.linear_probe import LinearProbe, probe_table, run_probe_sizes
from ecgfoundry.eval.metrics import per_class_auroc


def _embeddings(n, d=16, k=3, seed=0, noise=0.5):
    rng = np.random.default_rng(seed)
    w = np.random.default_rng(99).normal(size=(d, k))
    x = rng.normal(size=(n, d)).astype(np.float32) * 3 + 1
    y = ((x - 1) @ w + rng.normal(0, noise * 3, (n, k)) > 1.0).astype(np.float32)
    return x, y


def test_sklearn_conventions():
    p = LinearProbe(lr=0.01, patience=3)
    assert p.get_params()["lr"] == 0.01 and clone(p).get_params() == p.get_params()
    with pytest.raises(NotFittedError):
        p.predict_proba(np.zeros((2, 16)))
    x, y = _embeddings(200)
    with pytest.raises(ValueError, match="loss"):
        LinearProbe(loss="mse").fit(x, y, x, y)
    with pytest.raises(ValueError, match="validation"):
        LinearProbe().fit(x, y, x[:5], np.zeros((5, 3)))


def test_learns_and_keeps_best_validation_epoch():
    x, y = _embeddings(600, seed=1)
    xv, yv = _embeddings(300, seed=2)
    p = LinearProbe(lr=0.02, max_epochs=40, patience=5, batch_size=64).fit(x, y, xv, yv)
    assert p is not None and p.coef_.shape == (3, 16) and p.intercept_.shape == (3,)
    scores = [h["val_auroc"] for h in p.history_]
    assert p.best_score_ == max(scores) and scores[p.best_epoch_ - 1] == p.best_score_
    # the kept weights reproduce the best validation score
    assert np.nanmean(per_class_auroc(yv, p.predict_proba(xv))) == pytest.approx(p.best_score_, abs=1e-6)
    assert p.best_score_ > 0.9
    xt, yt = _embeddings(300, seed=3)
    assert np.nanmean(per_class_auroc(yt, p.predict_proba(xt))) > 0.9
    # early stopping stopped within patience of the best epoch
    assert len(p.history_) <= p.best_epoch_ + 5
    q = LinearProbe(lr=0.02, max_epochs=40, patience=5, batch_size=64).fit(x, y, xv, yv)
    np.testing.assert_array_equal(p.coef_, q.coef_)  # seeded


def test_cross_entropy_probe():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(4, 8)) * 3
    lab = rng.integers(0, 4, 400)
    x = (centers[lab] + rng.normal(size=(400, 8))).astype(np.float32)
    p = LinearProbe(loss="ce", lr=0.05, max_epochs=30, patience=5).fit(x[:300], lab[:300], x[300:], lab[300:])
    prob = p.predict_proba(x[300:])
    np.testing.assert_allclose(prob.sum(1), 1, atol=1e-5)
    assert (prob.argmax(1) == lab[300:]).mean() > 0.9


def test_run_probe_sizes():
    x, y = _embeddings(1000, seed=4)
    xv, yv = _embeddings(200, seed=5)
    xt, yt = _embeddings(200, seed=6)
    runs = run_probe_sizes(x, y, xv, yv, xt, yt, classes=("a", "b", "c"), fractions=(0.05, 1.0), seeds=(0, 1),
                           n_boot=20, lr=0.02, max_epochs=15, patience=3, batch_size=128)
    table = probe_table(runs)
    assert len(table) == 4
    assert table["n_train"].tolist()[2:] == [1000, 1000]
    assert all(50 <= n <= 53 for n in table["n_train"].tolist()[:2])
    full = table[table.fraction == 1.0]["test_auroc"].mean()
    small = table[table.fraction == 0.05]["test_auroc"].mean()
    assert full > 0.85 and full >= small - 0.02
    assert {"test_auroc_low", "test_auroc_high", "val_auroc", "best_epoch"} <= set(table.columns)
