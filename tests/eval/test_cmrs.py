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


# ----------------------------------------------------------------------------- bootstrap interval

def naive_bootstrap(p0, pm, pg, prev, sev, n_boot, seed, level=0.95):
    """Recompute CMRS on each resample of the records (same draws as metrics.bootstrap_weights)."""
    idx = np.random.default_rng(seed).integers(0, len(p0), size=(n_boot, len(p0)))
    vals = []
    for row in idx:
        res = cmrs(p0[row], pm[row], pg[row], prev, sev[row])
        if np.isfinite(res.score):
            vals.append(res.score)
    alpha = (1 - level) / 2
    return tuple(np.quantile(vals, [alpha, 1 - alpha]))


def test_bootstrap_against_naive_resampling():
    p0, pm, sev, prev = _probs(n=30, m=3, seed=5)
    pg = np.clip(pm + np.random.default_rng(6).normal(0, 0.15, pm.shape), 0, 1)
    res = cmrs(p0, pm, pg, prev, sev)
    for level in (0.95, 0.8):
        lo, hi = res.bootstrap_ci(n_boot=200, seed=3, level=level)
        np.testing.assert_allclose((lo, hi), naive_bootstrap(p0, pm, pg, prev, sev, 200, 3, level), rtol=1e-10)
        assert lo < res.score < hi
    # a wider level gives a wider interval
    lo8, hi8 = res.bootstrap_ci(200, 3, 0.8)
    lo95, hi95 = res.bootstrap_ci(200, 3, 0.95)
    assert lo95 <= lo8 and hi8 <= hi95 and (hi95 - lo95) > (hi8 - lo8)


def test_bootstrap_drops_zero_weight_resamples():
    # record 1 has no weight (its masks change nothing); resamples drawing only record 1 are dropped
    p0, pm, sev, prev = _probs(n=2, m=2, seed=7)
    pm[1] = p0[1]
    pg = np.clip(pm + 0.05, 0, 1)
    res = cmrs(p0, pm, pg, prev, sev)
    assert res.components.query("record == 1")["weight"].eq(0).all()
    lo, hi = res.bootstrap_ci(n_boot=300, seed=0)
    np.testing.assert_allclose((lo, hi), naive_bootstrap(p0, pm, pg, prev, sev, 300, 0), rtol=1e-10)
    # every kept resample holds record 0 only, in some multiplicity: the interval collapses to its score
    assert lo == pytest.approx(res.score) and hi == pytest.approx(res.score)


def test_bootstrap_known_answers():
    p0, pm, sev, prev = _probs(n=40, m=2, seed=8)
    # the model goes half-way from p0 to the base rates: R = 0.5 for every (record, mask)
    half = np.broadcast_to((p0 + 0.5 * (prev - p0))[:, None], pm.shape)
    res = cmrs(p0, pm, half, prev, sev)
    np.testing.assert_allclose(res.components["resolution"], 0.5, atol=1e-12)
    np.testing.assert_allclose(res.bootstrap_ci(100, seed=1), (50.0, 50.0), atol=1e-9)
    # a single record: every resample is that record, a zero-width interval at the score
    pg = np.clip(pm + 0.1, 0, 1)
    one = cmrs(p0[:1], pm[:1], pg[:1], prev, sev[:1])
    lo, hi = one.bootstrap_ci(50, seed=2)
    assert lo == pytest.approx(one.score) and hi == pytest.approx(one.score)


def test_bootstrap_seed_and_nan_handling():
    p0, pm, sev, prev = _probs(n=25, m=2, seed=9)
    pg = np.clip(pm + np.random.default_rng(0).normal(0, 0.2, pm.shape), 0, 1)
    res = cmrs(p0, pm, pg, prev, sev)
    assert res.bootstrap_ci(100, seed=4) == res.bootstrap_ci(100, seed=4)
    assert res.bootstrap_ci(100, seed=4) != res.bootstrap_ci(100, seed=5)
    assert all(np.isnan(res.bootstrap_ci(n_boot=0)))
    none = cmrs(p0, p0[:, None], p0[:, None], prev, sev[:, :1])  # no weight anywhere: NaN score
    assert np.isnan(none.score) and all(np.isnan(none.bootstrap_ci(100)))
    with pytest.raises(ValueError, match="level"):
        res.bootstrap_ci(10, level=1.0)
    with pytest.raises(ValueError, match="n_boot"):
        res.bootstrap_ci(-1)


# ----------------------------------------------------------------------------- per-class CMRS

def naive_per_class(p0, pm, pg, prev, sev, atol=1e-12):
    out = []
    for k in range(p0.shape[1]):
        num = den = 0.0
        for i in range(len(p0)):
            for j in range(pm.shape[1]):
                imp = abs(pm[i, j, k] - p0[i, k])
                d_model, d_prior = abs(pg[i, j, k] - p0[i, k]), abs(prev[k] - p0[i, k])
                if d_prior <= atol:
                    r = float(d_model <= atol)
                else:
                    r = min(max(1 - d_model / d_prior, 0.0), 1.0)
                num += sev[i, j] * imp * r
                den += sev[i, j] * imp
        out.append((100 * num / den if den > 0 else np.nan, den))
    return out


def test_per_class_against_naive_loop():
    p0, pm, sev, prev = _probs(n=30, m=3, k=4, seed=10)
    pg = np.clip(pm + np.random.default_rng(1).normal(0, 0.15, pm.shape), 0, 1)
    p0[3, 2] = prev[2]  # one degenerate |pi_k - p0,k| = 0 cell, model off on it: R_k = 0 there
    pm[:, :, 3] = p0[:, None, 3]  # class 3 never changes under the masks: no weight, NaN score
    res = cmrs(p0, pm, pg, prev, sev)
    table = res.per_class_scores(["a", "b", "c", "d"])
    want = naive_per_class(p0, pm, pg, prev, sev)
    assert table["class"].tolist() == ["a", "b", "c", "d"]
    np.testing.assert_allclose(table["cmrs"][:3], [w[0] for w in want[:3]], rtol=1e-12)
    assert np.isnan(table["cmrs"][3]) and table["weight_share"][3] == 0
    dens = np.array([w[1] for w in want])
    np.testing.assert_allclose(table["weight_share"], dens / dens.sum(), rtol=1e-12)
    # the overall weight S * I is the mean of the per-class weights S * I_k
    np.testing.assert_allclose(res.class_weight.mean(axis=1), res.components["weight"], rtol=1e-12)


def test_per_class_known_answers():
    p0, pm, sev, prev = _probs(n=20, m=2, k=1, seed=11)
    pg = np.clip(pm + np.random.default_rng(2).normal(0, 0.1, pm.shape), 0, 1)
    res = cmrs(p0, pm, pg, prev, sev)
    table = res.per_class_scores()
    # one class: per-class CMRS is the overall score
    assert table["class"].tolist() == [0] and table["cmrs"][0] == pytest.approx(res.score, rel=1e-12)
    assert table["weight_share"][0] == pytest.approx(1.0)
    # full recovery is 100 and the base rates 0 on every class
    p0, pm, sev, prev = _probs(n=20, m=2, k=3, seed=12)
    assert np.allclose(cmrs(p0, pm, np.repeat(p0[:, None], 2, 1), prev, sev).per_class_scores()["cmrs"], 100)
    assert np.allclose(cmrs(p0, pm, np.broadcast_to(prev, pm.shape), prev, sev).per_class_scores()["cmrs"], 0)
    with pytest.raises(ValueError, match="class names"):
        res.per_class_scores(["a", "b"])
    with pytest.raises(ValueError, match="per-class"):
        CMRSResult(res.score, res.components).per_class_scores()


# ----------------------------------------------------------------------------- cmrs_clean, cmrs_self, cmrs_robust

def _parts(p0, pm, pg, q0, prev, sev):
    return cmrs(p0, pm, pg, prev, sev, p_model_clean=q0)


@pytest.mark.parametrize("seed, m, k", [(20, 1, 1), (21, 3, 4), (22, 2, 7)])
def test_parts_against_naive_loop(seed, m, k):
    from .naive import naive_cmrs_parts

    p0, pm, sev, prev = _probs(n=40, m=m, k=k, seed=seed)
    rng = np.random.default_rng(seed + 100)
    q0 = np.clip(p0 + rng.normal(0, 0.15, p0.shape), 0, 1)  # G's clean view: near F(x), not on it
    pg = np.clip(q0[:, None] + rng.normal(0, 0.15, pm.shape), 0, 1)  # masked: near G's clean view
    res = _parts(p0, pm, pg, q0, prev, sev)
    want = naive_cmrs_parts(p0, pm, pg, q0, prev, sev)
    got = res.scores()
    assert set(got) == {"cmrs", "cmrs_clean", "cmrs_self", "cmrs_robust"}
    for key in want:
        assert got[key] == pytest.approx(want[key], rel=1e-12, abs=1e-12), key
    assert got["cmrs"] == pytest.approx(naive_cmrs(p0, pm, pg, prev, sev), rel=1e-12)  # unchanged definition
    assert res.score_robust == pytest.approx(res.score - res.score_clean)
    assert {"resolution_clean", "resolution_self", "d_clean", "d_self", "d_prior_self"} <= set(res.components)


@pytest.mark.parametrize("shrink", [0.0, 0.3, 0.5, 0.9])
def test_model_that_ignores_the_mask_has_zero_robust_part(shrink):
    """G(x^m) = G(x): CMRS is whatever G's clean agreement with F is worth (it falls as G's clean
    output moves from F(x) to the base rates), and all of it is cmrs_clean: robust part 0, self 100."""
    p0, pm, sev, prev = _probs(n=60, m=3, k=5, seed=23)
    q0 = p0 + shrink * (prev - p0)  # R_clean = 1 - shrink exactly, for every record
    pg = np.repeat(q0[:, None], 3, axis=1)
    res = _parts(p0, pm, pg, q0, prev, sev)
    assert res.score == pytest.approx(100 * (1 - shrink), abs=1e-9)
    assert res.score == res.score_clean  # the very same numbers
    assert res.score_robust == pytest.approx(0.0, abs=1e-9)
    assert res.score_self == pytest.approx(100.0)
    cis = res.bootstrap_cis(200, seed=1)
    np.testing.assert_allclose(cis["cmrs_robust"], (0.0, 0.0), atol=1e-9)
    np.testing.assert_allclose(cis["cmrs_self"], (100.0, 100.0), atol=1e-9)
    assert cis["cmrs"] == cis["cmrs_clean"]


def test_model_equal_to_the_reference():
    """G = F (probabilities, no calibration): G's clean view is F(x), so cmrs_clean = 100 and
    cmrs_self (against G's clean view) is cmrs (against F's); the robust part is cmrs - 100."""
    p0, pm, sev, prev = _probs(n=50, m=2, k=3, seed=24)
    res = _parts(p0, pm, pm, p0, prev, sev)
    assert res.score_clean == pytest.approx(100.0)
    assert res.score_self == pytest.approx(res.score, rel=1e-12)
    assert res.score_robust == pytest.approx(res.score - 100.0)
    assert 0 < res.score < 100 and res.score_robust < 0


def test_oracle_and_base_rate_models():
    p0, pm, sev, prev = _probs(n=30, m=2, k=4, seed=25)
    oracle = _parts(p0, pm, np.repeat(p0[:, None], 2, 1), p0, prev, sev)  # F(x) whatever is removed
    assert oracle.scores() == pytest.approx({"cmrs": 100, "cmrs_clean": 100, "cmrs_self": 100, "cmrs_robust": 0})
    base = _parts(p0, pm, np.broadcast_to(prev, pm.shape), np.broadcast_to(prev, p0.shape), prev, sev)
    # a constant model: no agreement with F at all, and perfectly stable (the D(pi, q0) = 0 rule)
    assert base.scores() == pytest.approx({"cmrs": 0, "cmrs_clean": 0, "cmrs_self": 100, "cmrs_robust": 0})
    assert not base.components.isna().any().any()


def test_robust_part_sign_follows_what_the_mask_does():
    """A model whose clean view is half-way to the base rates: masks that pull it further away
    make the robust part negative, masks that happen to move it onto F(x) make it positive."""
    p0, pm, sev, prev = _probs(n=30, m=2, k=4, seed=26)
    q0 = p0 + 0.5 * (prev - p0)
    worse = _parts(p0, pm, np.broadcast_to((p0 + 0.8 * (prev - p0))[:, None], pm.shape), q0, prev, sev)
    better = _parts(p0, pm, np.repeat(p0[:, None], 2, 1), q0, prev, sev)
    assert worse.score_robust == pytest.approx(-30.0) and better.score_robust == pytest.approx(50.0)
    assert worse.score_clean == better.score_clean == pytest.approx(50.0)


def naive_paired_bootstrap(p0, pm, pg, q0, prev, sev, n_boot, seed, level=0.95):
    """Recompute all four scores on each resample of records (metrics.bootstrap_weights' draws)."""
    from .naive import naive_cmrs_parts

    idx = np.random.default_rng(seed).integers(0, len(p0), size=(n_boot, len(p0)))
    vals = {k: [] for k in ("cmrs", "cmrs_clean", "cmrs_self", "cmrs_robust")}
    for row in idx:
        for key, v in naive_cmrs_parts(p0[row], pm[row], pg[row], q0[row], prev, sev[row]).items():
            vals[key].append(v)
    alpha = (1 - level) / 2
    return {k: tuple(np.quantile(v, [alpha, 1 - alpha])) for k, v in vals.items()}


def test_parts_bootstrap_against_naive_resampling():
    p0, pm, sev, prev = _probs(n=20, m=2, k=3, seed=27)
    rng = np.random.default_rng(3)
    q0 = np.clip(p0 + rng.normal(0, 0.1, p0.shape), 0, 1)
    pg = np.clip(q0[:, None] + rng.normal(0, 0.2, pm.shape), 0, 1)
    res = _parts(p0, pm, pg, q0, prev, sev)
    cis = res.bootstrap_cis(150, seed=4)
    want = naive_paired_bootstrap(p0, pm, pg, q0, prev, sev, 150, 4)
    for key in want:
        np.testing.assert_allclose(cis[key], want[key], rtol=1e-9, atol=1e-9, err_msg=key)
        assert cis[key][0] <= res.scores()[key] <= cis[key][1], key
        assert res.bootstrap_ci(150, 4, score=key) == cis[key]
    # paired: the robust interval is narrower than the gap two independent intervals would allow
    assert cis["cmrs_robust"][1] - cis["cmrs_robust"][0] < (cis["cmrs"][1] - cis["cmrs"][0]) + (
        cis["cmrs_clean"][1] - cis["cmrs_clean"][0])


def test_parts_need_the_clean_view():
    p0, pm, sev, prev = _probs(n=10, m=2, seed=28)
    res = cmrs(p0, pm, pm, prev, sev)
    assert res.scores() == {"cmrs": res.score} and not res.has_clean
    assert np.isnan(res.score_clean) and np.isnan(res.score_robust)
    with pytest.raises(ValueError, match="clean-view"):
        res.bootstrap_cis(10, scores=("cmrs_self",))
    with pytest.raises(ValueError, match="unknown score"):
        res.bootstrap_ci(10, score="cmrs_other")
    with pytest.raises(ValueError, match="p_model_clean"):
        cmrs(p0, pm, pm, prev, sev, p_model_clean=p0[:5])


def test_evaluate_cmrs_computes_the_clean_view():
    rng = np.random.default_rng(0)
    n, t = 20, 40
    sig = rng.normal(size=(n, 12, t)).astype(np.float32)
    obs = np.ones_like(sig, dtype=bool)
    w = rng.normal(size=(12, 3))

    def reference(s, o):
        return 1 / (1 + np.exp(-(np.abs(s).mean(axis=2) @ w)))

    def ignores_the_mask(s, o):  # a constant G: the same output whatever is removed
        return np.tile([0.2, 0.5, 0.7], (len(s), 1))

    masks = MS.sample_masks("joint", n, t, rng=1)
    res = evaluate_cmrs(reference, ignores_the_mask, None, sig, obs, masks, np.full(3, 0.3), batch_size=7)
    assert res.has_clean and res.score == res.score_clean and res.score_robust == pytest.approx(0, abs=1e-9)
    own = evaluate_cmrs(reference, reference, None, sig, obs, masks, np.full(3, 0.3))
    assert own.score_clean == pytest.approx(100) and own.score_self == pytest.approx(own.score)
