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


def test_default_batch_size_is_the_benchmark_papers():
    assert LinearProbe().batch_size == 128  # Filice et al., arXiv 2601.21830


def _lead_rms(signal, observed):
    """12 features: each lead's RMS over its observed samples (0 for a removed lead)."""
    n = np.maximum(observed.sum(axis=2), 1)
    return np.sqrt((signal ** 2 * observed).sum(axis=2) / n).astype(np.float32)


def _lead_ii_data(n, seed, t=50):
    """The label is carried by lead II only: its amplitude is 1 mV for positives, 0.3 mV otherwise."""
    rng = np.random.default_rng(seed)
    y = (rng.random((n, 1)) < 0.5).astype(np.float32)
    sig = rng.normal(0, 0.5, size=(n, 12, t)).astype(np.float32)
    sig[:, 1] = rng.normal(0, 1, size=(n, t)) * np.where(y[:, :1] > 0, 1.0, 0.3)
    return sig.astype(np.float32), np.ones(sig.shape, dtype=bool), y


def test_probe_under_missingness_scores_differently_where_the_masked_lead_carries_the_signal():
    from ecgfoundry.eval.linear_probe import probe_mask_rng, probe_under_missingness
    from ecgfoundry.eval.missingness import sample_masks, severity

    train, val, test = _lead_ii_data(300, 0), _lead_ii_data(100, 1), _lead_ii_data(200, 2)
    clean = LinearProbe(seed=0).fit(_lead_rms(*train[:2]), train[2], _lead_rms(*val[:2]), val[2])
    clean_auroc = float(np.nanmean(per_class_auroc(test[2], clean.decision_function(_lead_rms(*test[:2])))))
    assert clean_auroc > 0.97
    rand = sample_masks("lead", 200, 50, 7)
    no_ii = np.zeros(test[0].shape, dtype=bool)
    no_ii[:, 1] = True  # "hard": lead II removed from every test record

    def masks(kind, mode):
        return rand if mode == "rand" else no_ii

    rows = probe_under_missingness(_lead_rms, train, val, test, ["x"], ("lead",), masks, ("rand", "hard"), seed=0,
                                   n_boot=20, clean_probe=clean)
    by = {r["mode"]: r for r in rows}
    assert set(by) == {"rand", "hard"} and all(r["kind"] == "lead" and r["n_train"] == 300 for r in rows)
    assert by["rand"]["severity"] == pytest.approx(severity(rand).mean())
    assert by["hard"]["severity"] == pytest.approx(1 / 12)
    lost = rand[:, 1].all(axis=1) & (test[2][:, 0] > 0)  # positives that lost lead II
    assert lost.sum() >= 5
    assert by["rand"]["test_auroc"] < clean_auroc - 0.02  # those positives now look negative
    assert abs(by["hard"]["test_auroc"] - 0.5) < 0.15  # no record shows the signal
    assert by["rand"]["test_auroc_low"] <= by["rand"]["test_auroc"] <= by["rand"]["test_auroc_high"]
    assert "clean_probe_test_auroc" in by["rand"] and 0.5 < by["rand"]["val_auroc"] < 1.0
    # the probe trained and selected under its own masks, never the test's
    a = sample_masks("lead", 10, 50, probe_mask_rng(0, "lead", "train"))
    assert not np.array_equal(a, sample_masks("lead", 10, 50, probe_mask_rng(0, "lead", "val")))
    with pytest.raises(ValueError, match="unknown missingness type"):
        probe_under_missingness(_lead_rms, train, val, test, ["x"], ("leads",), masks)
