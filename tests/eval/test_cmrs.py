"""CMRS known answers, invariances, edge cases; Platt scaling against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

from ecgfoundry.eval import missingness as MS
from ecgfoundry.eval.cmrs import CMRSResult, PlattScaler, cmrs, evaluate_cmrs, resolution


def _probs(n=50, m=3, k=4, seed=0):
    rng = np.random.default_rng(seed)
    p0 = rng.random((n, k))
    p_masked = np.clip(p0[:, None] + rng.normal(0, 0.2, (n, m, k)), 0, 1)
    sev = rng.uniform(0.05, 0.4, (n, m))
    prev = rng.uniform(0.05, 0.5, k)
    return p0, p_masked, sev, prev


def naive_cmrs(p0, p_masked, p_model, prev, sev):
    num = den = 0.0
    for i in range(len(p0)):
        for j in range(p_masked.shape[1]):
            imp = np.mean(np.abs(p_masked[i, j] - p0[i]))
            r = 1 - np.mean(np.abs(p_model[i, j] - p0[i])) / np.mean(np.abs(prev - p0[i]))
            r = min(max(r, 0.0), 1.0)
            num += sev[i, j] * imp * r
            den += sev[i, j] * imp
    return 100 * num / den


def test_full_view_recovery_is_100_and_base_rate_is_0():
    p0, pm, sev, prev = _probs()
    assert cmrs(p0, pm, np.repeat(p0[:, None], 3, 1), prev, sev).score == pytest.approx(100)
    assert cmrs(p0, pm, np.broadcast_to(prev, pm.shape), prev, sev).score == pytest.approx(0)
    # a model worse than the base rates is clipped at 0, not negative
    worse = 1 - p0[:, None].repeat(3, 1)
    assert cmrs(p0, pm, worse, prev, sev).score >= 0


def test_against_naive_loop():
    p0, pm, sev, prev = _probs(seed=1)
    rng = np.random.default_rng(2)
    pg = np.clip(pm + rng.normal(0, 0.1, pm.shape), 0, 1)
    res = cmrs(p0, pm, pg, prev, sev)
    assert res.score == pytest.approx(naive_cmrs(p0, pm, pg, prev, sev), rel=1e-12)
    assert 0 < res.score < 100
    assert len(res.components) == 50 * 3


def test_record_order_invariance():
    p0, pm, sev, prev = _probs(seed=3)
    pg = np.clip(pm * 0.7 + 0.3 * p0[:, None], 0, 1)
    perm = np.random.default_rng(0).permutation(len(p0))
    a = cmrs(p0, pm, pg, prev, sev).score
    b = cmrs(p0[perm], pm[perm], pg[perm], prev, sev[perm]).score
    assert a == pytest.approx(b, rel=1e-12)


def test_masks_that_change_nothing_carry_no_weight():
    p0, pm, sev, prev = _probs(n=20, m=2, seed=4)
    pg = np.clip(pm * 0.5 + 0.5 * p0[:, None], 0, 1)
    base = cmrs(p0, pm, pg, prev, sev).score
    # add a third mask per record with I = 0 and a fourth with S = 0; the model does terribly on both
    pm2 = np.concatenate([pm, p0[:, None], pm[:, :1]], axis=1)
    pg2 = np.concatenate([pg, np.broadcast_to(prev, (20, 2, 4))], axis=1)
    sev2 = np.concatenate([sev, np.full((20, 1), 0.3), np.zeros((20, 1))], axis=1)
    res = cmrs(p0, pm2, pg2, prev, sev2)
    assert res.score == pytest.approx(base, rel=1e-12)
    assert (res.components.query("mask >= 2")["weight"] == 0).all()


def test_degenerate_prior_distance_has_no_nan():
    p0 = np.array([[0.2, 0.4], [0.3, 0.3]])
    prev = np.array([0.2, 0.4])  # record 0's reference output is exactly the base rate
    r = resolution(np.array([[0.2, 0.4], [0.3, 0.3]]), p0, prev)
    assert r.tolist() == [1.0, 1.0]
    r = resolution(np.array([[0.25, 0.4], [0.3, 0.3]]), p0, prev)
    assert r.tolist() == [0.0, 1.0]
    res = cmrs(p0, np.array([[0.5, 0.5], [0.1, 0.1]]), np.array([[0.25, 0.4], [0.3, 0.3]]),
               prev, np.array([0.2, 0.2]))
    assert not res.components.isna().any().any()
    assert res.score == pytest.approx(100 * 0.2 * 0.2 / (0.2 * 0.2 + 0.2 * 0.2))


def test_no_weight_gives_nan_score():
    p0, pm, sev, prev = _probs(n=5, m=1)
    res = cmrs(p0, p0[:, None], p0[:, None], prev, sev)
    assert np.isnan(res.score)
    assert isinstance(res, CMRSResult) and len(res.per_record()) == 5


def test_shape_errors():
    p0, pm, sev, prev = _probs(n=5, m=2)
    with pytest.raises(ValueError, match="shapes"):
        cmrs(p0, pm, pm[:, :1], prev, sev)
    with pytest.raises(ValueError, match="prevalence"):
        cmrs(p0, pm, pm, prev[:2], sev)


def test_platt_matches_sklearn_unregularised():
    rng = np.random.default_rng(0)
    n = 400
    y = rng.random((n, 2)) < [0.3, 0.6]
    s = np.where(y, 1.0, -0.5) + rng.normal(0, 1.2, (n, 2))
    pl = PlattScaler(smooth_targets=False).fit(s, y)
    for k in range(2):
        lr = LogisticRegression(C=1e12, tol=1e-12, max_iter=10000).fit(s[:, k:k + 1], y[:, k])
        # sklearn: p = sigmoid(w s + c)  <=>  Platt: a = -w, b = -c
        assert pl.a_[k] == pytest.approx(-lr.coef_[0, 0], rel=1e-5)
        assert pl.b_[k] == pytest.approx(-lr.intercept_[0], rel=1e-5, abs=1e-6)
        np.testing.assert_allclose(pl.transform(s)[:, k], lr.predict_proba(s[:, k:k + 1])[:, 1], atol=1e-6)


def test_platt_smoothed_is_finite_on_separable_and_constant_classes():
    s = np.array([[-2.0, 0.1], [-1.0, 0.2], [1.0, 0.3], [2.0, 0.4]])
    y = np.array([[0, 0], [0, 0], [1, 0], [1, 0]])
    pl = PlattScaler().fit(s, y)
    assert np.all(np.isfinite(pl.a_)) and np.all(np.isfinite(pl.b_))
    p = pl.transform(s)
    assert np.all(np.diff(p[:, 0]) > 0)  # monotone in the score
    assert p[3, 0] == pytest.approx(3 / 4, abs=0.05)  # Platt's smoothed target (2+1)/(2+2)
    assert np.all(p[:, 1] < 0.3)  # no positives: low probabilities, near 1/(4+2)
    with pytest.raises(NotFittedError):
        PlattScaler().transform(s)
    with pytest.raises(ValueError, match="classes"):
        pl.transform(s[:, :1])


def test_evaluate_cmrs_end_to_end():
    rng = np.random.default_rng(0)
    n, t = 30, 40
    sig = rng.normal(size=(n, 12, t)).astype(np.float32)
    obs = np.ones_like(sig, dtype=bool)
    w = rng.normal(size=(12, 3))

    def reference(s, o):
        return 1 / (1 + np.exp(-(np.abs(s).mean(axis=2) @ w)))

    masks = np.stack([MS.sample_masks("joint", n, t, rng=i) for i in range(2)], axis=1)
    prev = np.full(3, 0.3)
    # G = the reference itself, Platt-less: recovers exactly F(x^m), scored against F(x)
    own = evaluate_cmrs(reference, reference, None, sig, obs, masks, prev, batch_size=7)
    p0 = reference(sig, obs)
    pm = np.stack([reference(*MS.apply_mask(sig, obs, masks[:, j])) for j in range(2)], 1)
    sev = masks.reshape(n, 2, -1).mean(-1)
    assert own.score == pytest.approx(cmrs(p0, pm, pm, prev, sev).score)

    # a model that outputs the base rates scores 0
    base = evaluate_cmrs(reference, lambda s, o: np.broadcast_to(prev, (len(s), 3)), None,
                            sig, obs, masks[:, 0], prev)
    assert base.score == pytest.approx(0)
