"""The known-answer experiment's data and measures (eval/known_answers.py), on a small synthetic
folder and the tiny SCAR checkpoint of the evaluation fixtures."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from ecgfoundry.datasets.synthetic_evidence import evidence_tokens, read_evidence
from ecgfoundry.errors import EcgDataError
from ecgfoundry.eval import known_answers as ka


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("known_answers") / "synth-n120-seed3"


@pytest.fixture(scope="module")
def store(folder):
    return ka.synthetic_store(folder, 120, 3)


@pytest.fixture(scope="module")
def split(store, folder):
    return ka.known_answer_split(store, folder / "data", "test")


@pytest.fixture(scope="module")
def model(tiny_run):
    from ecgfoundry.checkpoint import load_model

    return load_model(tiny_run).eval()


def test_synthetic_store_writes_once_and_split_keeps_the_evidence_in_record_order(store, split, folder, capsys):
    mtime = (folder / "data" / "evidence.jsonl").stat().st_mtime_ns
    again = ka.synthetic_store(folder, 120, 3)                 # reused: nothing written
    assert (folder / "data" / "evidence.jsonl").stat().st_mtime_ns == mtime and "wrote" not in capsys.readouterr().out
    assert len(again) == len(store) == 120
    test = store.split_indices("test")
    assert len(split.texts) == len(test) == split.signal.shape[0] and split.signal.flags["C_CONTIGUOUS"]
    evidence = read_evidence(folder / "data")
    ids = store.table["record"].iloc[test].astype(str).tolist()
    assert [[(i.label, i.leads) for i in items] for items in split.evidence] == \
        [[(i.label, i.leads) for i in evidence[r]] for r in ids]
    tok = split.evidence_tokens(50)
    assert tok.shape == (len(ids), 12 * 20)
    np.testing.assert_array_equal(tok[1], evidence_tokens(evidence[ids[1]], 1000, 50))
    # labels come from the same records as the evidence: every primary evidence item is a positive label
    col = {c: k for k, c in enumerate(split.classes)}
    for i, items in enumerate(split.evidence):
        assert all(split.labels[i, col[it.label]] for it in items if it.role == "primary" and it.label in col)


def test_known_answer_split_refuses_evidence_of_another_folder(store, tmp_path):
    (tmp_path / "evidence.jsonl").write_text('{"record": "nope", "evidence": []}\n')
    with pytest.raises(EcgDataError, match="evidence.jsonl: record: .* have no evidence"):
        ka.known_answer_split(store, tmp_path, "test")


def test_synthetic_store_labels_text_source_and_old_folders(store, folder):
    described = json.loads((folder / "data" / "dataset.json").read_text())
    described.pop("label_descriptions")                         # a folder written before synth recorded them
    (folder / "data" / "dataset.json").write_text(json.dumps(described))
    labelled = ka.synthetic_store(folder, 120, 3, text_source="labels")
    assert "label_descriptions" in json.loads((folder / "data" / "dataset.json").read_text())
    b = labelled.batch(labelled.split_indices("test")[:3], label_set="synthetic")
    assert list(b.texts) != list(store.batch(store.split_indices("test")[:3], label_set="synthetic").texts)
    with pytest.raises(ValueError, match="text_source"):
        ka.synthetic_store(folder, 120, 3, text_source="reports")


def test_training_log_summary_known_answer(tmp_path):
    rows = ["step,loss,align,mask_rate,samples_per_s"]
    for step in range(1, 21):
        rate = "" if step < 3 else (0.95 if step in (7, 19) else 0.3)
        rows.append(f"{step * 10},{10.0 - step * 0.1},{5.0 - step * 0.1},{rate},{step}")
    (tmp_path / "metrics.csv").write_text("\n".join(rows) + "\n")
    s = ka.training_log_summary(tmp_path)
    assert s["first_logged_step"] == 10 and s["loss_first"] == pytest.approx(9.9) and s["align_first"] == pytest.approx(4.9)
    assert s["loss_end_mean_last_10pct"] == pytest.approx((8.1 + 8.0) / 2)  # last 2 of 20 logged steps
    assert s["align_end_mean_last_10pct"] == pytest.approx((3.1 + 3.0) / 2)
    assert s["mask_rate_end_mean_last_10pct"] == pytest.approx((0.95 + 0.3) / 2)
    assert s["first_step_mask_rate_over_0.9"] == 70 and s["samples_per_s_median"] == pytest.approx(10.5)
    (tmp_path / "metrics.csv").write_text("step,loss\n1,2.0\n")
    with pytest.raises(EcgDataError, match="metrics.csv: align: column missing"):
        ka.training_log_summary(tmp_path)


def test_lead_drop_cosine_of_unobserved_leads_is_the_full_view(model, split):
    n = len(split.texts)
    drop = [[] for _ in range(n)]
    drop[0], drop[2] = [1, 7], [4]
    observed = split.observed.copy()
    observed[0, [1, 7]] = False                                 # already missing: dropping changes nothing
    observed[2, 4] = False
    out = ka.lead_drop_cosine(model, split.signal * observed, observed, drop, seed=0)
    assert out["records"] == 2 and out["mean_leads_dropped"] == pytest.approx(1.5)
    assert out["cos_evidence_leads_dropped"] == pytest.approx(1.0, abs=1e-5)
    assert out["cos_evidence_leads_dropped_sd"] == pytest.approx(0.0, abs=1e-5)
    assert -1.0 <= out["cos_between_records_full_view"] <= 1.0


def test_zero_shot_auroc_and_alignment_measures(model, split):
    from ecgfoundry.eval.zero_shot import heldout_infonce

    out = ka.alignment_measures(model, split, batch_size=4)
    zs = out["zero_shot"]
    assert set(zs["per_class"]) == set(split.classes)
    scored = [v for v in zs["per_class"].values() if v is not None]
    assert zs["macro_auroc"] == pytest.approx(np.mean(scored), abs=1e-3)  # per class rounded to 4 places
    assert all(zs["per_class"][c] is None for c in zs["skipped"])
    assert out["heldout_infonce"] == heldout_infonce(model, split.signal, split.observed, split.texts, 4)


def test_attack_measures_compare_and_drop_private(model, split):
    split = split.take(slice(0, 4))                             # 4 records, the first 2 s: the attacks stay fast
    assert split.signal.shape[0] == len(split.evidence) == 4 and split.signal.flags["C_CONTIGUOUS"]
    split = dataclasses.replace(split, signal=np.ascontiguousarray(split.signal[..., :200]),
                                observed=np.ascontiguousarray(split.observed[..., :200]))
    tobs = ka.token_observed(model, split.signal, split.observed)
    ev = split.evidence_tokens(model.cfg.encoder.patch_size)
    removals, ratios = ka.uninformed_control(split.signal, ev, tobs, model.cfg.encoder.patch_size, 0.3)
    assert set(removals) == set(ratios) == {"token", "lead"}
    torch.manual_seed(0)
    res = ka.attack_measures(model, split, ev, tobs, removals["token"], 0.3, 0.5, batch_size=4, seed=0,
                             cost_batch_size=4)
    assert list(res) == ["masker_evidence", "removal_costs", "evidence_lead_drop", "best_lead_removal",
                         "greedy_token_removal"]
    assert list(res["best_lead_removal"]) == list(ka.ORACLE_LEADS)
    assert res["best_lead_removal"][3]["lambda_cons"] == 0.5 and res["best_lead_removal"][3]["n_subsets"] == 220
    assert "masker" in res["removal_costs"] and "greedy_minus_masker" in res["greedy_token_removal"]
    models = {"scar": res, "scar-leadmask": {"masker_evidence": dict(res["masker_evidence"])},
              "plain": {"removal_costs": {}}}
    ka.compare_with_uninformed(models, ev, tobs, removals, lambda name: "lead" if "lead" in name else "token")
    assert models["scar"]["masker_evidence"]["vs_uninformed"]["unit"] == "token"
    assert models["scar-leadmask"]["masker_evidence"]["vs_uninformed"]["unit"] == "lead"
    assert "masker_evidence" not in models["plain"]
    ka.drop_private(models)
    assert "_removed_top" not in res["masker_evidence"] and "_tobs" not in res["masker_evidence"]
    assert all("_per_record" not in v for v in res["removal_costs"].values())
    json.dumps(models)                                          # what remains is the saved report
