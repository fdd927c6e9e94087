"""Metrics against scikit-learn, naive loops and hand-computed answers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from ecgfoundry.eval import metrics as M


def naive_auroc(y, s):
    """Probability that a random positive outscores a random negative (ties 1/2), by loops."""
    pos = [a for a, t in zip(s, y) if t]
    neg = [b for b, t in zip(s, y) if not t]
    total = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in pos for b in neg)
    return total / (len(pos) * len(neg))


def _data(n=60, k=4, seed=0, ties=False):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, k)) < 0.3).astype(int)
    y[0], y[1] = 1, 0  # every class has both values
    s = y * 0.8 + rng.normal(size=(n, k))
    if ties:
        s = np.round(s, 1)
    return y, s


def test_known_answers():
    y = np.array([1, 1, 0, 0])
    assert M.per_class_auroc(y, np.array([0.9, 0.8, 0.2, 0.1]))[0] == 1.0
    assert M.per_class_auroc(y, -np.array([0.9, 0.8, 0.2, 0.1]))[0] == 0.0
    assert M.per_class_auroc(y, np.ones(4))[0] == 0.5
    # hand-computed: pos {0.8, 0.4}, neg {0.6, 0.2}: pairs won 0.8>0.6, 0.8>0.2, 0.4>0.2 -> 3/4
    assert M.per_class_auroc(y, np.array([0.8, 0.4, 0.6, 0.2]))[0] == 0.75
    # AP by hand: ranking 0.8(+) 0.6(-) 0.4(+) 0.2(-): 0.5*1 + 0.5*(2/3)
    assert M.per_class_auprc(y, np.array([0.8, 0.4, 0.6, 0.2]))[0] == pytest.approx(0.5 + 1 / 3)
    assert M.per_class_auprc(y, np.array([0.9, 0.8, 0.2, 0.1]))[0] == 1.0


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_against_sklearn_and_naive(seed, ties):
    y, s = _data(seed=seed, ties=ties)
    auc, ap = M.per_class_auroc(y, s), M.per_class_auprc(y, s)
    for j in range(y.shape[1]):
        assert auc[j] == pytest.approx(roc_auc_score(y[:, j], s[:, j]), abs=1e-12)
        assert auc[j] == pytest.approx(naive_auroc(y[:, j], s[:, j]), abs=1e-12)
        assert ap[j] == pytest.approx(average_precision_score(y[:, j], s[:, j]), abs=1e-12)


def test_weights_equal_explicit_resample():
    y, s = _data(n=40, seed=3, ties=True)
    rng = np.random.default_rng(0)
    w = M.bootstrap_weights(len(y), 5, rng)
    idx_rng = np.random.default_rng(0)
    idx = idx_rng.integers(0, len(y), size=(5, len(y)))  # same draws as bootstrap_weights
    auc_w, ap_w = M.per_class_auroc(y, s, w), M.per_class_auprc(y, s, w)
    thr = np.full(y.shape[1], 0.3)
    f1_w = M.f1_at_thresholds(y, s, thr, w)
    for b in range(5):
        yb, sb = y[idx[b]], s[idx[b]]
        np.testing.assert_allclose(auc_w[b], M.per_class_auroc(yb, sb), atol=1e-12)
        np.testing.assert_allclose(ap_w[b], M.per_class_auprc(yb, sb), atol=1e-12)
        np.testing.assert_allclose(f1_w[b], M.f1_at_thresholds(yb, sb, thr), atol=1e-12)


def test_skipped_classes_reported_and_left_out():
    y = np.array([[1, 0, 1], [0, 0, 1], [1, 0, 1], [0, 0, 1]])
    s = np.array([[0.9, 0.1, 0.3], [0.2, 0.2, 0.2], [0.8, 0.3, 0.1], [0.1, 0.4, 0.4]])
    r = M.macro_auroc(y, s, ("A", "B", "C"))
    assert r.value == 1.0
    assert r.skipped == {"B": "no positives", "C": "no negatives"}
    assert r.evaluated == ("A",)
    assert np.isnan(r.per_class[1:]).all()
    assert M.macro_auprc(y, s, ("A", "B", "C")).value == 1.0


def test_thresholds_chosen_on_validation_only():
    yv = np.array([[1], [1], [0], [0]])
    sv = np.array([[0.7], [0.6], [0.5], [0.1]])
    t = M.choose_thresholds(yv, sv)
    assert t[0] == 0.6  # the highest threshold with validation F1 = 1
    yt = np.array([[1], [1], [0], [0]])
    st = np.array([[0.65], [0.55], [0.58], [0.0]])  # on test the best cut would be 0.55
    f1 = M.f1_at_thresholds(yt, st, t)
    assert f1[0] == pytest.approx(f1_score(yt[:, 0], st[:, 0] >= 0.6))
    assert f1[0] == pytest.approx(2 / 3)
    res = M.macro_f1(yv, sv, yt, st)
    assert res.value == pytest.approx(2 / 3)  # not the test-optimal 0.8


def test_choose_thresholds_matches_brute_force():
    y, s = _data(n=50, k=3, seed=5, ties=True)
    t = M.choose_thresholds(y, s)
    for j in range(3):
        best = max(f1_score(y[:, j], s[:, j] >= c) for c in np.unique(s[:, j]))
        assert f1_score(y[:, j], s[:, j] >= t[j]) == pytest.approx(best)


def test_no_validation_positives_gives_nan_threshold_and_skip():
    yv = np.array([[1, 0], [0, 0], [1, 0]])
    sv = np.array([[0.9, 0.2], [0.1, 0.3], [0.8, 0.1]])
    yt = np.array([[1, 1], [0, 0]])
    st = np.array([[0.9, 0.9], [0.1, 0.1]])
    assert np.isnan(M.choose_thresholds(yv, sv)[1])
    r = M.macro_f1(yv, sv, yt, st, ("A", "B"))
    assert r.value == 1.0 and "B" in r.skipped


def test_accuracy():
    assert M.accuracy([0, 2, 1], np.array([[3, 1, 0], [0, 1, 2], [0, 5, 1]])) == 1.0
    assert M.accuracy(np.eye(3)[[0, 2, 1]], np.array([[3, 1, 0], [0, 1, 2], [9, 5, 1]])) == pytest.approx(2 / 3)
    assert M.accuracy([1, 0, 1, 0], [0.7, 0.2, 0.4, 0.6], threshold=0.5) == 0.5
    with pytest.raises(ValueError, match="multi-label"):
        M.accuracy(np.array([[1, 1], [0, 1]]), np.zeros((2, 2)))


def test_bootstrap_reproducible_and_covers_point():
    y, s = _data(n=120, k=3, seed=7)
    a = M.bootstrap_ci(y, s, "auroc", n_boot=200, seed=1)
    b = M.bootstrap_ci(y, s, "auroc", n_boot=200, seed=1)
    c = M.bootstrap_ci(y, s, "auroc", n_boot=200, seed=2)
    assert a.macro == b.macro and a.macro != c.macro
    point = M.macro_auroc(y, s).value
    assert a.macro[0] < point < a.macro[1]
    assert np.all(a.per_class_low <= a.per_class_high)
    assert np.all(a.n_valid == 200)


def test_bootstrap_skips_class_without_positives_in_a_resample():
    rng = np.random.default_rng(0)
    y = np.zeros((30, 2), int)
    y[:15, 0] = 1
    y[0, 1] = 1  # one positive: absent from ~1/e of the resamples
    s = y + rng.normal(0, 0.1, size=y.shape)
    ci = M.bootstrap_ci(y, s, "auroc", n_boot=300, seed=0)
    assert 0.25 * 300 < 300 - ci.n_valid[1] < 0.5 * 300
    assert ci.n_valid[0] == 300
    assert not np.isnan(ci.macro).any()


def test_evaluate_table():
    y, s = _data(n=80, k=3, seed=11)
    yv, sv = _data(n=80, k=3, seed=12)
    ev = M.evaluate(y, s, yv, sv, ("A", "B", "C"), n_boot=50, seed=0)
    assert list(ev.table["class"]) == ["A", "B", "C"]
    assert ev.macro["auroc"] == pytest.approx(np.mean([roc_auc_score(y[:, j], s[:, j]) for j in range(3)]))
    assert ev.table["support"].tolist() == y.sum(0).tolist()
    for key in ("auroc", "auprc", "f1"):
        lo, hi = ev.ci[key]
        assert lo <= hi
    with pytest.raises(ValueError, match="same shape"):
        M.evaluate(y, s[:, :2], yv, sv)
    with pytest.raises(ValueError, match="multi-hot"):
        M.per_class_auroc(y * 2, s)
