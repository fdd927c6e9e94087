"""Evidence ratios, their bootstrap intervals, a masker's ratio and the uninformed control."""

import numpy as np
import pytest
import torch

from ecgfoundry.eval import evidence_ratio as er
from ecgfoundry.eval.masker_attack import top_fraction


def test_summary_known_answer():
    # 3 records x 10 tokens; record 2's evidence covers every observed token (not localised)
    tobs = np.ones((3, 10), bool)
    tobs[1, 9] = False
    ev = np.zeros((3, 10), bool)
    ev[0, :2] = True
    ev[1, :5] = True
    ev[2] = True
    removed = np.zeros((3, 10), bool)
    removed[0, [0, 5]] = True       # one of two is evidence
    removed[1, [0, 1, 9]] = True    # token 9 is unobserved: not counted
    out = er.evidence_ratio_summary(ev, removed, tobs)
    loc = out["localised"]
    assert loc["records"] == 2 and out["all"]["records"] == 3
    assert loc["base_rate"] == pytest.approx(7 / 19)
    assert loc["evidence_among_removed"] == pytest.approx(3 / 4)
    assert loc["removed_fraction"] == pytest.approx(4 / 19)
    assert loc["ratio"] == pytest.approx((3 / 4) / (7 / 19))
    assert loc["max_possible_ratio"] == pytest.approx(19 / 7)
    assert out["all"]["ratio"] == pytest.approx((3 / 4) / (17 / 29))
    lo, hi = loc["ratio_ci95"]
    assert lo <= loc["ratio"] <= hi
    assert er.localised_rows(ev, tobs).tolist() == [True, True, False]


def test_evidence_ratio_interval_matches_a_naive_bootstrap():
    rng = np.random.default_rng(3)
    n, m = 40, 24
    tobs = rng.random((n, m)) < 0.9
    ev = (rng.random((n, m)) < 0.3) & tobs
    removed = (rng.random((n, m)) < 0.3) & tobs
    removed[:10] |= ev[:10]                                   # some records: the masker finds their evidence
    rows = np.ones(n, bool)
    rows[::7] = False
    lo, hi = er.evidence_ratio_ci(ev, removed, tobs, rows, n_boot=200, seed=5)
    idx = np.flatnonzero(rows)
    draws = np.random.default_rng(5).integers(0, len(idx), (200, len(idx)))
    naive = []
    for d in draws:                                           # pooled ratio of each resample, record by record
        pick = idx[d]
        hit = sum((ev[i] & removed[i]).sum() for i in pick) / sum(removed[i].sum() for i in pick)
        base = sum(ev[i].sum() for i in pick) / sum(tobs[i].sum() for i in pick)
        naive.append(hit / base)
    assert lo == pytest.approx(np.quantile(naive, 0.025)) and hi == pytest.approx(np.quantile(naive, 0.975))
    point = ((ev & removed)[rows].sum() / removed[rows].sum()) / (ev[rows].sum() / tobs[rows].sum())
    assert lo < point < hi


def test_evidence_ratio_difference_matches_a_naive_paired_bootstrap():
    rng = np.random.default_rng(4)
    n, m = 30, 20
    tobs = rng.random((n, m)) < 0.95
    ev = (rng.random((n, m)) < 0.3) & tobs
    a = (rng.random((n, m)) < 0.3) | ev                        # a finds the evidence more often than b
    b = rng.random((n, m)) < 0.3
    rows = er.localised_rows(ev, tobs)
    res = er.evidence_ratio_difference(ev, a, b, tobs, rows, n_boot=300, seed=2)

    def pooled(pick, removed):
        hit = sum((ev[i] & removed[i] & tobs[i]).sum() for i in pick) / sum((removed[i] & tobs[i]).sum() for i in pick)
        return hit / (sum(ev[i].sum() for i in pick) / sum(tobs[i].sum() for i in pick))

    idx = np.flatnonzero(rows)
    draws = np.random.default_rng(2).integers(0, len(idx), (300, len(idx)))
    naive = np.array([pooled(idx[d], a) - pooled(idx[d], b) for d in draws])
    assert res["difference"] == pytest.approx(pooled(idx, a) - pooled(idx, b))
    assert res["ci95"][0] == pytest.approx(np.quantile(naive, 0.025))
    assert res["ci95"][1] == pytest.approx(np.quantile(naive, 0.975))
    assert res["p_not_above"] == pytest.approx((naive <= 0).mean())
    assert res["ci95"][0] > 0                                  # a is clearly better here
    same = er.evidence_ratio_difference(ev, b, b, tobs, rows, n_boot=50)
    assert same["difference"] == 0 and same["ci95"] == (0.0, 0.0) and same["p_not_above"] == 1.0


def test_evidence_ratio_interval_is_nan_when_nothing_is_removed():
    tobs = np.ones((5, 8), bool)
    ev = np.zeros((5, 8), bool)
    ev[:, :2] = True
    nothing = np.zeros((5, 8), bool)
    lo, hi = er.evidence_ratio_ci(ev, nothing, tobs, np.ones(5, bool), n_boot=20)
    assert np.isnan(lo) and np.isnan(hi)
    d = er.evidence_ratio_difference(ev, nothing, nothing, tobs, np.ones(5, bool), n_boot=20)
    assert np.isnan(d["ci95"][0]) and np.isnan(d["p_not_above"])


def test_signal_sd_control_known_answer():
    """Evidence where the signal varies, flat elsewhere: the token control finds all of it; the
    lead control finds the evidence lead but not the evidence spans within it."""
    n_time, patch = 5, 10
    signal = np.zeros((2, 12, n_time * patch), np.float32)
    ev = np.zeros((2, 12 * n_time), bool)
    rng = np.random.default_rng(0)
    for i, lead in enumerate((2, 7)):
        signal[i, lead, :2 * patch] = rng.standard_normal(2 * patch)   # two active patches of one lead
        ev[i, lead * n_time:lead * n_time + 2] = True
    tobs = np.ones_like(ev)
    scores = er.signal_sd_scores(signal, patch)
    assert scores["token"].shape == scores["lead"].shape == (2, 12 * n_time)
    np.testing.assert_allclose(scores["token"][0, 2 * n_time], signal[0, 2, :patch].std(), rtol=1e-6)
    res = er.uninformed_evidence_ratio(signal, ev, tobs, patch, rho=2 / 60)  # remove 2 tokens per record
    assert res["token"]["localised"]["ratio"] == pytest.approx(30.0)       # every removed token is evidence
    assert res["token"]["localised"]["ratio"] == pytest.approx(res["token"]["localised"]["max_possible_ratio"])
    assert res["lead"]["localised"]["ratio"] == pytest.approx(30.0)        # first two tokens of the active lead
    res = er.uninformed_evidence_ratio(signal, ev, tobs, patch, rho=5 / 60)  # a whole lead: 2 of 5 are evidence
    assert res["lead"]["localised"]["ratio"] == pytest.approx(0.4 * 30)
    assert res["token"]["localised"]["ratio"] == pytest.approx(0.4 * 30)   # 2 active + 3 flat (zero SD) tokens


def test_lead_control_takes_whole_leads_in_sd_order_and_pads_the_last_patch():
    n_time, patch = 4, 10
    t = n_time * patch - 5                                     # the last patch holds 5 samples, padded
    signal = np.zeros((1, 12, t), np.float32)
    signal[0, 3] = np.tile([1.0, -1.0], t)[:t] * 3.0           # largest SD
    signal[0, 9] = np.tile([1.0, -1.0], t)[:t]
    tobs = np.ones((1, 12 * n_time), bool)
    tobs[0, 9 * n_time + 1] = False                            # an unobserved token is never removed
    rem = er.uninformed_removals(signal, tobs, patch, rho=6 / 48)
    lead = rem["lead"].reshape(12, n_time)
    assert lead.sum() == 6 and lead[3].all()                    # lead 3 whole, then lead 9 in time order
    assert lead[9].tolist() == [True, False, True, False]
    sd = er.signal_sd_scores(signal, patch)["token"].reshape(12, n_time)
    np.testing.assert_allclose(sd[3, -1], np.pad(signal[0, 3, 30:], (0, 5)).std(), rtol=1e-6)


def test_masker_evidence_ratio_scores_the_top_rho_by_gate(tiny_run, eval_store):
    from ecgfoundry.checkpoint import load_model

    model = load_model(tiny_run).eval()                       # eval: gates without noise
    b = eval_store.batch(eval_store.split_indices("test"), "synthetic")
    signal, observed = np.ascontiguousarray(b.signal), np.ascontiguousarray(b.observed)
    with torch.no_grad():
        gate, tobs = model.removal_gates(torch.from_numpy(signal), torch.from_numpy(observed))
    gate, tobs = gate.numpy(), tobs.numpy()
    ev = np.zeros_like(tobs)
    ev[:, : tobs.shape[1] // 3] = True                         # the first four leads hold the evidence
    model.train()                                              # the function itself must switch the noise off
    out = er.masker_evidence_ratio(model, signal, observed, ev, batch_size=4)  # batches give the same gates
    rho = model.cfg.masker.budget
    assert out["budget_rho"] == rho and out["mean_gate"] == pytest.approx(float(gate[tobs].mean()), rel=1e-5)
    np.testing.assert_array_equal(out["_removed_top"], top_fraction(gate, tobs, rho))
    np.testing.assert_array_equal(out["_tobs"], tobs)
    assert out["top_rho"] == er.evidence_ratio_summary(ev, top_fraction(gate, tobs, rho), tobs)
    assert out["gate_gt_0.5"]["all"]["removed_fraction"] == pytest.approx((gate > 0.5)[tobs].mean())
