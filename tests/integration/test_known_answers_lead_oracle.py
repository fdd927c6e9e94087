"""The exhaustive lead-removal attack of ``benchmarks/known_answers_pretrain.py`` (issue 4, check 2):
its costs against a record-by-record loop, and its summary against hand-made costs with a known answer."""

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import known_answers_pretrain as ka  # noqa: E402

from ecgfoundry.models.config import TextConfig  # noqa: E402
from ecgfoundry.models.registry import create_model  # noqa: E402


def _naive_cost(model, signal, observed, texts, leads, lam, batch_size, i):
    """Cost of removing ``leads`` from record i, computed for i's batch alone (every record of the batch
    loses the same leads), one record at a time for the encoder."""
    a = (i // batch_size) * batch_size
    rows = range(a, min(a + batch_size, len(texts)))
    with torch.no_grad():
        embs, full = [], []
        for r in rows:
            x, tobs = model.encoder.embed_tokens(torch.from_numpy(signal[r:r + 1]), torch.from_numpy(observed[r:r + 1]))
            n_time = tobs.shape[1] // 12
            removed = torch.tensor([lead in leads for lead in range(12) for _ in range(n_time)])[None] & tobs
            keep = torch.zeros(tuple(tobs.shape)).masked_fill(removed, float("-inf"))
            embs.append(F.normalize(model.ecg_proj(model.pool(model.encoder.encode_tokens(x, tobs, keep), tobs, keep)), dim=-1))
            full.append(F.normalize(model.ecg_proj(model.pool(model.encoder.encode_tokens(x, tobs), tobs)), dim=-1))
        e, e_full = torch.cat(embs), torch.cat(full)
        u = F.normalize(model.text_features([texts[r] for r in rows]), dim=-1)
        logits = model.scale() * e @ u.T
        j = i - a
        ce = -torch.log_softmax(logits[j], 0)[j]
        return float(ce + lam * (1 - (e[j] * e_full[j]).sum()))


def test_lead_subset_costs_match_a_record_by_record_loop():
    torch.manual_seed(0)
    model = create_model("scar", encoder="transformer-tiny", text=TextConfig(kind="hashing"))
    model.eval()
    rng = np.random.default_rng(0)
    n, t = 5, 400
    signal = rng.normal(size=(n, 12, t)).astype(np.float32)
    observed = np.ones((n, 12, t), bool)
    observed[1, 3] = False  # an unobserved lead stays out of every removal
    texts = [f"report {i} sinus rhythm" for i in range(n)]
    subsets, costs, tobs = ka.lead_subset_costs(model, signal, observed, texts, 2, 0.5, batch_size=3)
    assert subsets == list(itertools.combinations(range(12), 2))
    assert costs.shape == (66, n) and tobs.shape[0] == n
    for j in (0, 7, 65):
        for i in range(n):
            assert costs[j, i] == pytest.approx(_naive_cost(model, signal, observed, texts, subsets[j], 0.5, 3, i),
                                                rel=1e-4, abs=1e-4)


def test_best_lead_removal_known_answer():
    # 2 records, 2 time patches per lead; record 0: evidence in leads 0 and 1 only; record 1: everywhere.
    n_time = 2
    tobs = np.ones((2, 12 * n_time), bool)
    ev = np.zeros((2, 12, n_time), bool)
    ev[0, :2] = True
    ev[1] = True
    subsets = list(itertools.combinations(range(12), 2))
    costs = np.zeros((len(subsets), 2), np.float32)
    costs[subsets.index((5, 6)), 0] = 3.0   # the costliest removal of record 0 avoids its evidence
    costs[subsets.index((0, 1)), 0] = 2.0   # removing its evidence leads is second
    costs[subsets.index((0, 5)), 0] = 2.5
    labels = np.array([[1], [1]])
    out = ka.best_lead_removal(subsets, costs, tobs, ev.reshape(2, -1), labels, ["X"])
    loc = out["localised"]
    assert loc["records"] == 1  # record 1's evidence covers every token
    assert loc["best_ratio"] == 0.0
    base = 4 / 24
    assert loc["evidence_leads_ratio"] == pytest.approx(1.0 / base)
    assert loc["best_cost"] == pytest.approx(3.0) and loc["evidence_leads_cost"] == pytest.approx(2.0)
    assert loc["fraction_of_subsets_costlier_than_evidence_leads"] == pytest.approx(2 / len(subsets))
    assert out["per_class"] == {}  # fewer than 3 localised records of class X


def test_evidence_ratio_interval_matches_a_naive_bootstrap():
    rng = np.random.default_rng(3)
    n, m = 40, 24
    tobs = rng.random((n, m)) < 0.9
    ev = (rng.random((n, m)) < 0.3) & tobs
    removed = (rng.random((n, m)) < 0.3) & tobs
    removed[:10] |= ev[:10]                                   # some records: the masker finds their evidence
    rows = np.ones(n, bool)
    rows[::7] = False
    lo, hi = ka.evidence_ratio_ci(ev, removed, tobs, rows, n_boot=200, seed=5)
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


def test_top_rho_removal_takes_the_highest_observed_scores_and_whole_leads_on_ties():
    score = np.array([[0.1, 0.9, 0.5, 0.7, 0.2, 0.8]])
    tobs = np.array([[True, False, True, True, True, True]])
    removed = ka.top_rho_removal(score, tobs, 0.4)            # 2 of 5 observed tokens
    assert removed.tolist() == [[False, False, False, True, False, True]]
    lead_score = np.repeat([[1.0, 3.0, 2.0]], 4, axis=1)      # 3 leads x 4 tokens, equal within a lead
    removed = ka.top_rho_removal(lead_score, np.ones((1, 12), bool), 0.5)
    assert removed.reshape(3, 4).sum(1).tolist() == [0, 4, 2]  # lead 1 whole, then lead 2 in time order
    assert removed.reshape(3, 4)[2].tolist() == [True, True, False, False]


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
    scores = ka.signal_sd_scores(signal, patch)
    assert scores["token"].shape == scores["lead"].shape == (2, 12 * n_time)
    np.testing.assert_allclose(scores["token"][0, 2 * n_time], signal[0, 2, :patch].std(), rtol=1e-6)
    res = ka.uninformed_evidence_ratio(signal, ev, tobs, patch, rho=2 / 60)  # remove 2 tokens per record
    assert res["token"]["localised"]["ratio"] == pytest.approx(30.0)       # every removed token is evidence
    assert res["token"]["localised"]["ratio"] == pytest.approx(res["token"]["localised"]["max_possible_ratio"])
    assert res["lead"]["localised"]["ratio"] == pytest.approx(30.0)        # first two tokens of the active lead
    res = ka.uninformed_evidence_ratio(signal, ev, tobs, patch, rho=5 / 60)  # a whole lead: 2 of 5 are evidence
    assert res["lead"]["localised"]["ratio"] == pytest.approx(0.4 * 30)
    assert res["token"]["localised"]["ratio"] == pytest.approx(0.4 * 30)   # 2 active + 3 flat (zero SD) tokens


def test_evidence_ratio_difference_matches_a_naive_paired_bootstrap():
    rng = np.random.default_rng(4)
    n, m = 30, 20
    tobs = rng.random((n, m)) < 0.95
    ev = (rng.random((n, m)) < 0.3) & tobs
    a = (rng.random((n, m)) < 0.3) | ev                        # a finds the evidence more often than b
    b = rng.random((n, m)) < 0.3
    rows = ka.localised_rows(ev, tobs)
    res = ka.evidence_ratio_difference(ev, a, b, tobs, rows, n_boot=300, seed=2)

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
    same = ka.evidence_ratio_difference(ev, b, b, tobs, rows, n_boot=50)
    assert same["difference"] == 0 and same["ci95"] == (0.0, 0.0) and same["p_not_above"] == 1.0


def _naive_token_cost(model, signal, observed, texts, tokens, lam, batch_size, i):
    """Cost of removing the token indices ``tokens`` from record i alone, against the texts of its batch."""
    a = (i // batch_size) * batch_size
    with torch.no_grad():
        x, tobs = model.encoder.embed_tokens(torch.from_numpy(signal[i:i + 1]), torch.from_numpy(observed[i:i + 1]))
        removed = torch.zeros(tobs.shape, dtype=torch.bool)
        removed[0, list(tokens)] = True
        keep = torch.zeros(tuple(tobs.shape)).masked_fill(removed & tobs, float("-inf"))
        e = F.normalize(model.ecg_proj(model.pool(model.encoder.encode_tokens(x, tobs, keep), tobs, keep)), dim=-1)
        e_full = F.normalize(model.ecg_proj(model.pool(model.encoder.encode_tokens(x, tobs), tobs)), dim=-1)
        u = F.normalize(model.text_features(texts[a:a + batch_size]), dim=-1)
        ce = -torch.log_softmax((model.scale() * e @ u.T)[0], 0)[i - a]
        return float(ce + lam * (1 - (e * e_full).sum()))


def test_greedy_token_removal_picks_the_costliest_token_each_round():
    torch.manual_seed(1)
    model = create_model("scar", encoder="transformer-tiny", text=TextConfig(kind="hashing"))
    model.eval()
    rng = np.random.default_rng(1)
    n, t = 4, 200                                             # 4 patches of 50 samples per lead: 48 tokens
    signal = rng.normal(size=(n, 12, t)).astype(np.float32)
    observed = np.ones((n, 12, t), bool)
    observed[2, 5] = False                                    # lead 5 of record 2 is never a candidate
    texts = [f"report {i} with findings {i * 7}" for i in range(n)]
    rows = np.array([False, True, True, False])
    other = np.zeros((n, 48), bool)
    other[:, :3] = True
    out = ka.greedy_token_removal(model, signal, observed, texts, rows, rho=2 / 48, lambda_cons=0.7, chunk=1,
                                  batch_size=3, extra={"other": other})
    assert out["removed"].shape == (n, 48)
    assert not out["removed"][~rows].any() and np.isnan(out["cost"]["greedy"][~rows]).all()
    for i in np.flatnonzero(rows):
        cand = [tok for tok in range(48) if not (i == 2 and tok // 4 == 5)]
        first = max(cand, key=lambda tok: _naive_token_cost(model, signal, observed, texts, [tok], 0.7, 3, i))
        second = max((tok for tok in cand if tok != first),
                     key=lambda tok: _naive_token_cost(model, signal, observed, texts, [first, tok], 0.7, 3, i))
        assert sorted(np.flatnonzero(out["removed"][i])) == sorted([first, second])
        assert out["cost"]["greedy"][i] == pytest.approx(
            _naive_token_cost(model, signal, observed, texts, [first, second], 0.7, 3, i), rel=1e-4, abs=1e-4)
        assert out["cost"]["other"][i] == pytest.approx(
            _naive_token_cost(model, signal, observed, texts, [0, 1, 2], 0.7, 3, i), rel=1e-4, abs=1e-4)


def test_evidence_ratio_interval_is_nan_when_nothing_is_removed():
    tobs = np.ones((5, 8), bool)
    ev = np.zeros((5, 8), bool)
    ev[:, :2] = True
    nothing = np.zeros((5, 8), bool)
    lo, hi = ka.evidence_ratio_ci(ev, nothing, tobs, np.ones(5, bool), n_boot=20)
    assert np.isnan(lo) and np.isnan(hi)
    d = ka.evidence_ratio_difference(ev, nothing, nothing, tobs, np.ones(5, bool), n_boot=20)
    assert np.isnan(d["ci95"][0]) and np.isnan(d["p_not_above"])
