"""A run folder remembers where it came from (run.json), resumes from --out alone, refuses flags
that conflict with it, survives SIGINT, and never logs a step twice in metrics.csv (issue 22)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ecgfoundry.cli.main import main

TINY = ["--encoder", "transformer-tiny", "--text-kind", "hashing", "--batch-size", "16", "--no-progress"]


@pytest.fixture(scope="module")
def synth_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth-folder")
    assert main(["synth", "--n", "96", "--seed", "1", "--out", str(root / "synth"), "--no-progress"]) == 0
    return root / "synth"


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ECGFOUNDRY_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def _steps(run: Path) -> list[int]:
    with (run / "metrics.csv").open() as fh:
        return [int(r["step"]) for r in csv.DictReader(fh)]


def test_run_json_records_command_data_text_and_versions(tmp_path, synth_folder, capsys):
    out = tmp_path / "run"
    assert main(["pretrain", "--preset", "clip", "--data", str(synth_folder), "--text-source", "labels",
                 "--out", str(out), "--steps", "2", "--seed", "3", *TINY]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["text_source"] == "labels"
    assert run["seed"] == 3
    assert run["default_label_set"] == "synthetic" and "synthetic" in run["label_sets"]
    assert run["harmonisation"] == {"fs": 100.0, "seconds": 10.0, "crop": "first"}
    assert set(run["versions"]) == {"ecgfoundry", "torch", "python"}
    # the data path relative to the run folder, so the pair can move together
    assert (out / run["data"]["relative"]).resolve() == synth_folder.resolve()
    assert run["data"]["relative"] == os.path.relpath(synth_folder.resolve(), out.resolve())
    assert "--text-source labels" in run["commands"][0]["command"]
    # the cache used is printed and lies in $ECGFOUNDRY_CACHE, not under the current directory
    err = capsys.readouterr().err
    assert f"dataset cache: building {tmp_path / 'cache' / 'stores'}" in err


def test_resume_needs_only_out_and_steps(tmp_path, synth_folder):
    out = tmp_path / "run"
    assert main(["pretrain", "--preset", "clip", "--data", str(synth_folder), "--text-source", "labels",
                 "--out", str(out), "--steps", "2", *TINY]) == 0
    assert main(["pretrain", "--out", str(out), "--resume", "--steps", "4", "--no-progress"]) == 0
    run = json.loads((out / "run.json").read_text())
    assert [c["resume"] for c in run["commands"]] == [False, True]
    assert run["text_source"] == "labels"  # taken from the run, not the reader's default
    assert (out / "checkpoints" / "latest").read_text().strip() == "step_0000004"


def test_resume_refuses_conflicting_flags(tmp_path, synth_folder, capsys):
    out = tmp_path / "run"
    assert main(["pretrain", "--preset", "clip", "--data", str(synth_folder), "--out", str(out), "--steps", "2",
                 *TINY]) == 0
    capsys.readouterr()
    assert main(["pretrain", "--out", str(out), "--resume", "--text-source", "labels", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--text-source labels conflicts with the run" in err and "run.json" in err
    assert main(["pretrain", "--out", str(out), "--resume", "--preset", "scar", "--no-progress"]) == 2
    assert "--preset scar conflicts" in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    assert main(["pretrain", "--out", str(out), "--resume", "--data", str(other), "--no-progress"]) == 2
    assert "--data" in capsys.readouterr().err
    # the recorded values themselves are accepted
    assert main(["pretrain", "--out", str(out), "--resume", "--preset", "clip", "--text-source", "text",
                 "--steps", "3", "--no-progress"]) == 0


def test_pretrain_without_data_or_run_is_one_line(tmp_path, capsys):
    assert main(["pretrain", "--out", str(tmp_path / "new")]) == 2
    assert "pretrain needs --data" in capsys.readouterr().err
    assert main(["pretrain", "--out", str(tmp_path / "new"), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_cache_folder_with_conflicting_text_source_is_an_error(tmp_path, synth_folder, capsys):
    """A --text-source the cache folder does not hold is read from its dataset folder, or refused
    when that folder is gone (it was silently ignored)."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(synth_folder, data)
    assert main(["data", "cache", str(data), "--out", str(tmp_path / "store"), "--no-progress"]) == 0
    from ecgfoundry.io.store import open_store

    store = open_store(tmp_path / "store", text_source="labels")
    assert store.text_source == "labels" and (tmp_path / "store" / "texts" / "labels.csv").exists()
    assert store.table["text"].iloc[0] != open_store(tmp_path / "store").table["text"].iloc[0]
    shutil.rmtree(data)
    shutil.rmtree(tmp_path / "store" / "texts")
    capsys.readouterr()
    assert main(["pretrain", "--preset", "clip", "--data", str(tmp_path / "store"), "--text-source", "labels",
                 "--out", str(tmp_path / "run"), "--steps", "1", *TINY]) == 2
    err = capsys.readouterr().err
    assert "text_source" in err and "not 'labels'" in err


def test_metrics_csv_never_duplicates_steps(tmp_path):
    from ecgfoundry.train.loop import METRIC_FIELDS, truncate_metrics

    p = tmp_path / "metrics.csv"
    with p.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=METRIC_FIELDS, extrasaction="ignore")
        w.writeheader()
        for s in (10, 20, 30, 40):
            w.writerow({"step": s, "loss": 1.0})
    assert truncate_metrics(p, 20) == 2
    assert _steps(tmp_path) == [10, 20]
    assert truncate_metrics(p, 0) == 2 and _steps(tmp_path) == []


def test_sigint_saves_a_checkpoint_and_the_run_resumes(tmp_path, synth_folder):
    """SIGINT during `pretrain`: a checkpoint, the resume command, exit 130; `--resume` continues
    from it and metrics.csv holds every step once."""
    out = tmp_path / "run"
    env = {**os.environ, "ECGFOUNDRY_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "ecgfoundry", "pretrain", "--preset", "clip", "--data", str(synth_folder),
           "--out", str(out), "--steps", "100000", "--log-every", "1", "--checkpoint-every", "100000", *TINY]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline:
        if (out / "metrics.csv").exists() and len((out / "metrics.csv").read_text().splitlines()) >= 3:
            break
        if proc.poll() is not None:
            pytest.fail(f"pretrain ended early: {proc.communicate()}")
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert f"resume with: ecgfoundry pretrain --out {out} --resume" in stderr
    saved = (out / "checkpoints" / "latest").read_text().strip()
    step = int(saved.split("_")[1])
    assert step >= 2
    assert _steps(out)[-1] == step
    resume = [sys.executable, "-m", "ecgfoundry", "pretrain", "--out", str(out), "--resume",
              "--steps", str(step + 3), "--no-progress"]
    done = subprocess.run(resume, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    steps = _steps(out)
    assert steps == list(range(1, step + 4))  # log_every 1: each step exactly once


def test_harmonisation_that_conflicts_with_a_cache_folder_is_an_error(tmp_path, synth_folder, capsys):
    assert main(["data", "cache", str(synth_folder), "--out", str(tmp_path / "store"), "--no-progress"]) == 0
    capsys.readouterr()
    argv = ["pretrain", "--preset", "clip", "--data", str(tmp_path / "store"), "--out", str(tmp_path / "run"),
            "--steps", "1", *TINY]
    assert main(argv + ["--seconds", "5"]) == 2
    assert "--seconds 5 conflicts with the cache" in capsys.readouterr().err
    assert main(argv + ["--seconds", "10"]) == 0
