"""What removals cost an ECG-text model, and the maximisers of SCAR's masker objective, against
record-by-record reference loops and hand-made costs with a known answer."""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ecgfoundry.eval import removal_cost as rc
from ecgfoundry.models.config import TextConfig
from ecgfoundry.models.registry import create_model


def _tiny_scar(seed):
    torch.manual_seed(seed)
    return create_model("scar", encoder="transformer-tiny", text=TextConfig(kind="hashing")).eval()


def _setup(seed, n, t):
    """A tiny SCAR model (seeded) and ``n`` random records of ``t`` samples, every lead observed."""
    signal = np.random.default_rng(seed).normal(size=(n, 12, t)).astype(np.float32)
    return _tiny_scar(seed), signal, np.ones((n, 12, t), bool)


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
    n = 5
    model, signal, observed = _setup(0, n, 400)
    observed[1, 3] = False  # an unobserved lead stays out of every removal
    texts = [f"report {i} sinus rhythm" for i in range(n)]
    subsets, costs, tobs = rc.lead_subset_costs(model, signal, observed, texts, 2, 0.5, batch_size=3)
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
    out = rc.best_lead_removal(subsets, costs, tobs, ev.reshape(2, -1), labels, ["X"])
    loc = out["localised"]
    assert loc["records"] == 1  # record 1's evidence covers every token
    assert loc["best_ratio"] == 0.0
    base = 4 / 24
    assert loc["evidence_leads_ratio"] == pytest.approx(1.0 / base)
    assert loc["best_cost"] == pytest.approx(3.0) and loc["evidence_leads_cost"] == pytest.approx(2.0)
    assert loc["fraction_of_subsets_costlier_than_evidence_leads"] == pytest.approx(2 / len(subsets))
    assert out["per_class"] == {}  # fewer than 3 localised records of class X


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
    n = 4
    model, signal, observed = _setup(1, n, 200)               # 4 patches of 50 samples per lead: 48 tokens
    observed[2, 5] = False                                    # lead 5 of record 2 is never a candidate
    texts = [f"report {i} with findings {i * 7}" for i in range(n)]
    rows = np.array([False, True, True, False])
    other = np.zeros((n, 48), bool)
    other[:, :3] = True
    out = rc.greedy_token_removal(model, signal, observed, texts, rows, rho=2 / 48, lambda_cons=0.7, chunk=1,
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


def test_greedy_summary_costs_every_removal_on_the_localised_records():
    n = 4
    model, signal, observed = _setup(2, n, 200)
    texts = [f"record {i}" for i in range(n)]
    tobs = np.ones((n, 48), bool)
    ev = np.zeros((n, 48), bool)
    ev[:3, :8] = True
    ev[3] = True                                              # record 3 is not localised: left out
    control = np.zeros((n, 48), bool)
    control[:, 40:42] = True
    out = rc.greedy_summary(model, signal, observed, texts, ev, tobs, 0.5, batch_size=2, seed=0,
                            control_removed=control, masker_removed=control, rho=2 / 48, chunk=2)
    assert out["records"] == 3 and set(out["mean_cost"]) == {"greedy", "evidence first", "signal SD", "masker"}
    assert out["ratio"]["evidence first"]["ratio"] == pytest.approx(48 / 8)  # both removed tokens are evidence
    assert out["ratio"]["signal SD"]["evidence_among_removed"] == 0.0
    assert out["mean_cost"]["signal SD"] == out["mean_cost"]["masker"]   # the same removal, costed the same
    assert out["greedy_minus_masker"]["records"] == 3


def test_removal_costs_none_is_the_full_view_and_matches_the_model_path(tiny_run, eval_store):
    from ecgfoundry.checkpoint import load_model
    from ecgfoundry.eval.zero_shot import heldout_infonce

    model = load_model(tiny_run).eval()
    b = eval_store.batch(eval_store.split_indices("train")[:16], "synthetic")
    signal, observed, texts = np.ascontiguousarray(b.signal), np.ascontiguousarray(b.observed), list(b.texts)
    ev = np.zeros((16, model.encoder.embed_tokens(torch.from_numpy(signal[:1]),
                                                   torch.from_numpy(observed[:1]))[1].shape[1]), bool)
    ev[:, :10] = True
    out = rc.removal_costs(model, signal, observed, texts, ev, rho=0.3, seed=0, batch_size=8)
    assert list(out) == ["none", "random", "evidence first", "masker"]
    assert out["none"]["cos_to_full_view"] == pytest.approx(1.0, abs=1e-5)
    # no removal: the token path gives the model's own held-out InfoNCE (symmetric, whole batches of 8)
    assert out["none"]["align_loss"] == pytest.approx(heldout_infonce(model, signal, observed, texts, 8), rel=1e-4)
    for k in ("random", "evidence first", "masker"):
        assert out[k]["cos_to_full_view"] < 1.0
        assert out[k]["_per_record"]["cos"].shape == (16,)
    other = rc.removal_costs(model, signal, observed, texts, ev, rho=0.3, seed=0, batch_size=8, masker_model=model)
    assert other["masker"]["align_loss"] == out["masker"]["align_loss"]


def test_per_class_removal_known_answer():
    # 4 records x 6 tokens; classes A (records 0-2) and B (records 2-3); record 3 is not localised
    tobs = np.ones((4, 6), bool)
    ev = np.zeros((4, 6), bool)
    ev[:3, :2] = True
    ev[3] = True
    removed = np.zeros((4, 6), bool)
    removed[:, [0, 5]] = True
    labels = np.array([[1, 0], [1, 0], [1, 1], [0, 1]])
    per = {"ecg_to_text_loss": np.array([1.0, 2.0, 3.0, 4.0]), "cos": np.array([0.5, 0.6, 0.7, 0.8])}
    costs = {"m": {"none": {"_per_record": per}, "random": {"_per_record": per}}}
    out = rc.per_class_removal(labels, ["A", "B"], ev, tobs, removed, costs)
    assert list(out) == ["A"]                                  # B has 1 localised record
    a = out["A"]
    assert a["records"] == 3 and a["base_rate"] == pytest.approx(1 / 3)
    assert a["ratio"] == pytest.approx(0.5 / (1 / 3)) and a["max_possible_ratio"] == pytest.approx(3.0)
    assert a["models"] == {"m": {"random": {"ecg_to_text_loss": pytest.approx(2.0), "cos": pytest.approx(0.6)}}}


def test_removal_costs_need_one_whole_batch():
    model = _tiny_scar(0)
    signal = np.zeros((3, 12, 200), np.float32)
    with pytest.raises(ValueError, match="at least one whole batch of 4 records, got 3"):
        rc.removal_costs(model, signal, np.ones_like(signal, bool), ["a", "b", "c"], np.zeros((3, 48), bool),
                         rho=0.3, seed=0, batch_size=4)
