"""Every advertised model is evaluable (issue 22): ECG-only runs get the probe, stress and adversarial
protocols through their linear probe and a one-line refusal for zero-shot; evaluate refuses an
existing --out; paths in metrics.json are relative to it; per-class tables are CSV."""

from __future__ import annotations

import csv
import json
import os

import pytest

from ecgfoundry.cli.main import main


@pytest.fixture(scope="module")
def simclr_run(eval_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("simclr") / "run"
    assert main(["pretrain", "--objective", "simclr", "--encoder", "transformer-tiny", "--data", str(eval_store.path),
                 "--out", str(out), "--steps", "2", "--batch-size", "8", "--warmup-steps", "1", "--no-progress"]) == 0
    return out


def test_ecg_only_zero_shot_is_one_line(tmp_path, capsys, eval_store, simclr_run):
    argv = ["evaluate", "--model", str(simclr_run), "--data", str(eval_store.path), "--protocol", "zeroshot",
            "--out", str(tmp_path / "e"), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "simclr model is ECG-only" in err[0] and "no zero-shot" in err[0]
    assert not (tmp_path / "e").exists()  # refused before any work


def test_ecg_only_probe_stress_adversarial(tmp_path, capsys, eval_store, simclr_run, tiny_reference):
    out = tmp_path / "e"
    argv = ["evaluate", "--model", str(simclr_run), "--data", str(eval_store.path), "--label-set", "synthetic",
            "--reference", str(tiny_reference.path), "--protocol", "probe,stress,adversarial",
            "--missingness", "lead", "--mode", "rand", "--eps", "0.05", "--pgd-steps", "10", "--n-boot", "0",
            "--out", str(out), "--no-progress"]
    assert main(argv) == 0, capsys.readouterr().err
    m = json.loads((out / "metrics.json").read_text())
    assert m["head"] == "linear_probe" and "zero_shot" not in m
    assert set(m["linear_probe_stress"]["missingness"]) == {"lead"}
    assert "cmrs" in m["linear_probe_stress"]["missingness"]["lead"]["rand"]
    assert [r["fraction"] for r in m["linear_probe"]] == [0.01, 0.1, 1.0]
    assert {r["head"] for r in m["adversarial"]} == {"linear_probe"}
    # the stressed head is the 100 % probe: its clean AUROC is the probe table's test AUROC
    assert m["linear_probe_stress"]["clean"]["auroc"] == pytest.approx(m["linear_probe"][-1]["test_auroc"], abs=1e-6)
    assert (out / "linear_probe_stress.csv").exists() and "under missingness" in (out / "report.md").read_text()


def test_evaluate_refuses_existing_out(tmp_path, capsys, eval_store, tiny_run):
    out = tmp_path / "e"
    out.mkdir()
    (out / "metrics.json").write_text("{}")
    argv = ["evaluate", "--model", str(tiny_run), "--data", str(eval_store.path), "--protocol", "zeroshot",
            "--n-boot", "0", "--out", str(out), "--no-progress"]
    assert main(argv) == 2
    assert "already exists" in capsys.readouterr().err and (out / "metrics.json").read_text() == "{}"
    assert main(argv + ["--overwrite"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    # paths relative to the output folder, so a report built from another directory finds them
    assert m["data"] == os.path.relpath(eval_store.path.resolve(), out.resolve())
    assert (out / m["model"]).resolve() == tiny_run.resolve()
    # per-class tables as CSV: one row per condition x class
    with (out / "per_class.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert {r["condition"] for r in rows} == {"clean"}
    assert [r["class"] for r in rows] == m["classes"]
    by_class = {r["class"]: r for r in m["zero_shot"]["clean"]["per_class"]}
    for r in rows:
        if r["auroc"]:
            assert float(r["auroc"]) == pytest.approx(by_class[r["class"]]["auroc"])
