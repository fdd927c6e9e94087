"""The missingness protocol: mask statistics, application, severity, hard masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecgfoundry.eval import missingness as MS


def _runs(row: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous True runs (start, length) of a 1-D bool array, by a loop."""
    out, start = [], None
    for i, v in enumerate(list(row) + [False]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            out.append((start, i - start))
            start = None
    return out


def test_lead_masks():
    m = MS.sample_masks("lead", 4000, 50, rng=0)
    per_lead = m.all(axis=2)
    assert np.array_equal(per_lead, m.any(axis=2))  # whole leads only
    assert per_lead.sum(axis=1).max() <= 11  # at least one lead kept
    assert abs(per_lead.mean() - 0.1) < 0.01
    assert np.all(np.abs(per_lead.mean(axis=0) - 0.1) < 0.03)  # every lead equally likely


def test_at_least_one_lead_kept_when_p_is_one():
    m = MS.sample_masks("lead", 50, 20, 1, MS.MissingnessConfig(p_lead=1.0))
    assert np.all(m.all(axis=2).sum(axis=1) == 11)


def test_temporal_masks_one_span_per_lead():
    t = 200
    m = MS.sample_masks("temporal", 300, t, rng=1)
    lengths = []
    for rec in m:
        for row in rec:
            runs = _runs(row)
            assert len(runs) == 1
            lengths.append(runs[0][1])
    lengths = np.array(lengths)
    assert lengths.min() >= round(0.05 * t) and lengths.max() <= round(0.20 * t)
    assert lengths.min() <= 12 and lengths.max() >= 38  # the range is actually covered
    starts = np.array([_runs(row)[0][0] for rec in m for row in rec])
    assert starts.min() == 0 or starts.min() < 10
    assert (starts + lengths).max() <= t


def test_joint_masks():
    m = MS.sample_masks("joint", 500, 100, rng=2)
    dropped = m.all(axis=2)
    assert dropped.any() and dropped.sum(axis=1).max() <= 11
    for rec, d in zip(m, dropped):
        for row in rec[~d]:
            assert len(_runs(row)) == 1


def test_reproducible_and_seed_sensitive():
    for kind in MS.KINDS:
        a = MS.sample_masks(kind, 20, 100, rng=5)
        b = MS.sample_masks(kind, 20, 100, rng=np.random.default_rng(5))
        c = MS.sample_masks(kind, 20, 100, rng=6)
        assert np.array_equal(a, b) and not np.array_equal(a, c)
    with pytest.raises(ValueError, match="kind"):
        MS.sample_masks("leads", 2, 10, 0)


def test_severity_matches_budget_for_every_candidate():
    rng = np.random.default_rng(3)
    budget = MS.sample_budgets("joint", 30, 120, rng)
    cands = MS.realise_masks(budget, rng, n_candidates=6)
    sev = cands.reshape(30, 6, -1).mean(axis=2)
    np.testing.assert_allclose(sev, np.repeat(budget.severity[:, None], 6, axis=1))
    assert MS.severity(cands[:, 0]).shape == (30,)


def test_apply_mask_numpy_and_torch():
    rng = np.random.default_rng(0)
    sig = rng.normal(size=(3, 12, 40)).astype(np.float32)
    obs = rng.random((3, 12, 40)) > 0.2
    sig[~obs] = 0
    mask = MS.sample_masks("joint", 3, 40, rng=1)
    s2, o2 = MS.apply_mask(sig, obs, mask)
    assert s2.dtype == np.float32
    assert np.array_equal(o2, obs & ~mask)
    assert np.all(s2[~o2] == 0) and np.array_equal(s2[o2], sig[o2])
    assert not np.any(o2 & ~obs)  # never un-masks
    ts, to = MS.apply_mask(torch.from_numpy(sig), torch.from_numpy(obs), mask)
    assert np.array_equal(ts.numpy(), s2) and np.array_equal(to.numpy(), o2)
    with pytest.raises(ValueError, match="same shape"):
        MS.apply_mask(sig, obs, mask[:, :, :10])


def _v1_reference(signal, observed):
    """Probability that depends only on how much of V1 (and, weakly, V6) is observed."""
    v1 = observed[:, 6].mean(axis=1)
    v6 = observed[:, 11].mean(axis=1)
    return np.stack([0.9 * v1, 0.1 + 0.1 * v6], axis=1)


def test_hard_lead_masks_drop_the_lead_the_reference_needs():
    n, t = 40, 30
    sig = np.ones((n, 12, t), np.float32)
    obs = np.ones((n, 12, t), bool)
    hm = MS.hard_masks(_v1_reference, sig, obs, "lead", n_candidates=64, rng=0, batch_size=100)
    dropped = hm.masks.all(axis=2)
    has_drop = dropped.any(axis=1)
    assert has_drop.sum() > 10
    assert dropped[has_drop, 6].all()  # V1 is always among the dropped leads
    np.testing.assert_allclose(hm.impact, hm.candidate_impact.max(axis=1))
    np.testing.assert_allclose(hm.impact[has_drop], 0.9 / 2, atol=0.051)  # V1 dropped (+ maybe V6)
    # same budget as random masks with the same seed: severity equal to the budget
    budget = MS.sample_budgets("lead", n, t, np.random.default_rng(0))
    np.testing.assert_allclose(hm.severity, budget.severity)


def test_hard_masks_brute_force_and_batch_size_invariance():
    rng = np.random.default_rng(1)
    n, t, c = 7, 50, 5
    sig = rng.normal(size=(n, 12, t)).astype(np.float32)
    obs = np.ones_like(sig, dtype=bool)
    w = rng.normal(size=(12, 3))

    def ref(s, o):
        return 1 / (1 + np.exp(-(np.abs(s).mean(axis=2) @ w)))

    a = MS.hard_masks(ref, sig, obs, "joint", c, rng=4, batch_size=3)
    b = MS.hard_masks(ref, sig, obs, "joint", c, rng=4, batch_size=1000)
    assert np.array_equal(a.masks, b.masks)
    # brute force: realise the same candidates and score them one by one
    g = np.random.default_rng(4)
    budget = MS.sample_budgets("joint", n, t, g)
    cands = MS.realise_masks(budget, g, c)
    p0 = ref(sig, obs)
    for i in range(n):
        imps = []
        for j in range(c):
            s2, o2 = MS.apply_mask(sig[i:i + 1], obs[i:i + 1], cands[i, j][None])
            imps.append(np.abs(ref(s2, o2) - p0[i:i + 1]).mean())
        np.testing.assert_allclose(a.candidate_impact[i], imps, rtol=1e-6)
        assert np.array_equal(a.masks[i], cands[i, int(np.argmax(imps))])


def test_hard_masks_place_a_given_budget_with_the_rand_placement_as_candidate_0():
    """Budget-matched Hard: the budget is given (not drawn again), candidate 0 is the Rand. mask,
    so every record loses exactly what its Rand. mask removes and Hard's impact is never below it."""
    rng = np.random.default_rng(5)
    n, t, c = 25, 60, 6
    sig = rng.normal(size=(n, 12, t)).astype(np.float32)
    obs = np.ones_like(sig, dtype=bool)
    w = rng.normal(size=(12, 3))

    def ref(s, o):
        return 1 / (1 + np.exp(-(np.abs(s).mean(axis=2) @ w)))

    for kind in MS.KINDS:
        budget = MS.sample_budgets(kind, n, t, np.random.default_rng(1))
        rand = MS.realise_masks(budget, np.random.default_rng(2))
        hm = MS.hard_masks(ref, sig, obs, kind, c, rng=3, budget=budget, first=rand, batch_size=7)
        np.testing.assert_array_equal(hm.severity, MS.severity(rand))  # exactly, record by record
        np.testing.assert_array_equal(hm.masks.sum(axis=(1, 2)), rand.sum(axis=(1, 2)))
        rand_impact = MS.impact(ref(sig, obs), ref(*MS.apply_mask(sig, obs, rand)))
        np.testing.assert_allclose(hm.candidate_impact[:, 0], rand_impact, rtol=1e-6)
        assert np.all(hm.impact >= hm.candidate_impact[:, 0])
        if kind != "lead":  # spans: placements differ, so some record has a strictly harder mask
            assert np.any(hm.impact > rand_impact + 1e-9)
        # the other candidates are C - 1 placements of the budget from the hard generator
        drawn = MS.realise_masks(budget, np.random.default_rng(3), c - 1)
        for i in range(n):
            cands = np.concatenate([rand[i][None], drawn[i]])
            assert any(np.array_equal(hm.masks[i], m) for m in cands)
        if kind == "lead":  # per-record dropped-lead counts are the budget's
            np.testing.assert_array_equal(hm.masks.all(axis=2).sum(axis=1), budget.n_drop)


def test_hard_masks_budget_errors():
    sig = np.zeros((4, 12, 20), np.float32)
    obs = np.ones_like(sig, dtype=bool)
    budget = MS.sample_budgets("joint", 4, 20, np.random.default_rng(0))
    rand = MS.realise_masks(budget, np.random.default_rng(1))
    ref = _v1_reference
    with pytest.raises(ValueError, match="needs the budget"):
        MS.hard_masks(ref, sig, obs, "joint", 3, 0, first=rand)
    other = MS.realise_masks(MS.sample_budgets("joint", 4, 20, np.random.default_rng(9)), np.random.default_rng(1))
    with pytest.raises(ValueError, match="does not place the budget"):
        MS.hard_masks(ref, sig, obs, "joint", 3, 0, budget=budget, first=other)
    with pytest.raises(ValueError, match="budget is for"):
        MS.hard_masks(ref, sig[:3], obs[:3], "joint", 3, 0, budget=budget)
    with pytest.raises(ValueError, match="n_candidates"):
        MS.hard_masks(ref, sig, obs, "joint", 0, 0)
    one = MS.hard_masks(ref, sig, obs, "joint", 1, 0, budget=budget, first=rand)  # C = 1: Hard is Rand.
    np.testing.assert_array_equal(one.masks, rand)
