"""Wrong folders are caught (issue 22): a dataset whose records all lack labels is a problem, and a
run folder is not read as a dataset."""

from __future__ import annotations

import pandas as pd
import pytest

from ecgfoundry.cli.main import main


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("unlabelled")
    assert main(["synth", "--n", "20", "--seed", "4", "--out", str(root / "synth"), "--no-progress"]) == 0
    return root / "synth"


def test_all_records_without_labels_is_a_problem(tmp_path, synth, capsys):
    import shutil

    data = tmp_path / "nolabels"
    shutil.copytree(synth, data)
    t = pd.read_csv(data / "records.csv", dtype=str, keep_default_na=False).drop(columns=["labels"])
    t.to_csv(data / "records.csv", index=False)
    assert main(["data", "inspect", str(data), "--no-progress"]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "none of the 20 records has a label" in out
    assert main(["data", "inspect", str(synth), "--no-progress"]) == 0  # labelled: no such problem
    assert "problems found: none" in capsys.readouterr().out


def test_run_folder_is_not_a_dataset(tmp_path, synth, capsys, monkeypatch):
    monkeypatch.setenv("ECGFOUNDRY_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    assert main(["pretrain", "--preset", "clip", "--encoder", "transformer-tiny", "--text-kind", "hashing",
                 "--data", str(synth), "--out", str(run), "--steps", "1", "--batch-size", "4", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["data", "inspect", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {run}: not a dataset folder")
