"""``ecgfoundry study contrastive-robustness`` end to end on a tiny synthetic set (transformer-tiny,
a handful of steps): files, columns, ranges, objectives differ, resume, settings guard."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from ecgfoundry.cli.main import main

from ..synth_store import cached_synth

OBJECTIVES = ("simclr", "moco", "byol", "clef", "clip", "scar", "untrained")


@pytest.fixture(scope="module")
def study_store(tmp_path_factory):
    """160 synthetic records (100 Hz, 10 s): 128 train / 16 val / 16 test."""
    return cached_synth(tmp_path_factory.mktemp("study_synth"), 160, 2)


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _argv(store, out, *extra):
    return ["study", "contrastive-robustness", "--data", str(store.path), "--out", str(out), "--encoder",
            "transformer-tiny", "--steps", "4", "--batch-size", "16", "--seeds", "0,1", "--text-kind", "hashing",
            "--eps", "0.05,0.3", "--pgd-steps", "10", "--attack-n", "12", "--no-progress", *extra]


def test_study_end_to_end_and_resume(tmp_path, capsys, study_store):
    out = tmp_path / "study"
    assert main(_argv(study_store, out)) == 0
    for name in ("report.md", "runs.csv", "summary.csv", "robustness.png"):
        assert (out / name).exists() and (out / name).stat().st_size > 0
    runs = pd.read_csv(out / "runs.csv")
    assert list(runs.columns) == ["objective", "seed", "attack", "eps", "auroc", "accuracy", "n", "auroc_drop"]
    assert set(runs["objective"]) == set(OBJECTIVES) and set(runs["seed"]) == {0, 1}
    assert set(runs["attack"]) == {"clean", "none", "fgsm", "pgd", "worst"} and set(runs["eps"]) == {0.0, 0.05, 0.3}
    assert len(runs) == 7 * 2 * (2 + 3 * 2)
    # worst: per run and eps, the lower AUROC of FGSM and PGD
    at = runs[runs["eps"] > 0].pivot_table(index=["objective", "seed", "eps"], columns="attack", values="auroc")
    assert (at["worst"] == at[["fgsm", "pgd"]].min(axis=1)).all()
    assert runs[["auroc", "accuracy"]].notna().all().all()
    assert (runs.loc[runs["attack"] == "clean", "n"] == 16).all() and (runs.loc[runs["attack"] == "pgd", "n"] == 12).all()
    clean = runs[runs["attack"] == "clean"].groupby("objective")["auroc"].mean()
    assert clean.nunique() > 1                                        # the objectives give different encoders
    # the attack set is the same records for every objective: same clean AUROC only if same scores
    pgd = runs[(runs["attack"] == "pgd") & (runs["eps"] == 0.3)].set_index(["objective", "seed"])["auroc"]
    none = runs[runs["attack"] == "none"].set_index(["objective", "seed"])["auroc"]
    assert (pgd <= none + 1e-9).mean() >= 0.75                        # a strong attack rarely helps
    summary = pd.read_csv(out / "summary.csv")
    assert {"auroc_mean", "auroc_sd", "accuracy_mean", "accuracy_sd", "n_seeds"} <= set(summary.columns)
    assert (summary["n_seeds"] == 2).all() and summary["auroc_sd"].notna().all()
    # every summary row is the mean and sample SD over the seeds of its runs, recomputed here
    for row in summary.itertuples():
        sel = runs[(runs.objective == row.objective) & (runs.attack == row.attack) & (runs.eps == row.eps)]
        a, acc = sel["auroc"].to_numpy(), sel["accuracy"].to_numpy()
        assert len(a) == 2 and row.auroc_mean == pytest.approx(a.mean()) and row.auroc_sd == pytest.approx(abs(a[0] - a[1]) / 2 ** 0.5)
        assert row.accuracy_mean == pytest.approx(acc.mean())
    report = (out / "report.md").read_text()
    assert report.splitlines()[0] == "# Contrastive-loss robustness study"
    # the attack's own cost: the run's clean AUROC on the attack set minus the attacked AUROC
    pg = runs[(runs["attack"] == "pgd") & (runs["eps"] == 0.3)].set_index(["objective", "seed"])
    assert ((none.reindex(pg.index) - pg["auroc"]) - pg["auroc_drop"]).abs().max() < 1e-9
    assert "## Macro AUROC lost to the attack" in report and "paired loss, worst - best" in report
    assert "ecgfoundry study contrastive-robustness --data" in report and "--seeds 0,1" in report
    assert "| clef |" in report and "gap / sd" in report and "WORST 0.3 mV" in report
    result = json.loads((out / "runs" / "moco-seed1" / "robustness.json").read_text())
    assert result["objective"] == "moco" and result["seed"] == 1 and result["steps"] == 4
    assert json.loads((out / "runs" / "untrained-seed1" / "robustness.json").read_text())["steps"] == 0
    capsys.readouterr()

    # resume: nothing is recomputed, the tables are the same
    assert main(_argv(study_store, out)) == 0
    printed = capsys.readouterr().out
    assert printed.count("done before, skipped") == 14
    pd.testing.assert_frame_equal(pd.read_csv(out / "runs.csv"), runs)

    # other settings in the same folder are refused with one line naming them
    assert main(_argv(study_store, out)[:-1] + ["--steps", "5", "--no-progress"]) == 2
    assert "steps" in capsys.readouterr().err


def test_every_objective_starts_from_the_same_encoder_as_the_untrained_control():
    from ecgfoundry.models.registry import create_model

    states = []
    for obj in ("simclr", "byol", "clip", "scar"):
        torch.manual_seed(7)
        kw = {} if obj in ("simclr", "byol") else {"text": {"kind": "hashing"}}
        states.append(create_model(obj, encoder="transformer-tiny", **kw).encoder.state_dict())
    for other in states[1:]:
        assert all(torch.equal(states[0][k], other[k]) for k in states[0])


def test_study_interrupted_run_resumes_from_checkpoint(tmp_path, study_store, capsys):
    out = tmp_path / "study"
    argv = _argv(study_store, out, "--objectives", "simclr", "--seeds", "3")
    assert main(argv) == 0
    run = out / "runs" / "simclr-seed3"
    (run / "robustness.json").unlink()                                # evaluation lost, training done
    assert main(argv) == 0
    assert json.loads((run / "robustness.json").read_text())["steps"] == 4
    assert "skipped" not in capsys.readouterr().out
    # a result attacked by the old PGD (no attack_version) is not mixed with new ones
    saved = json.loads((run / "robustness.json").read_text())
    saved.pop("attack_version")
    (run / "robustness.json").write_text(json.dumps(saved))
    assert main(argv) == 2
    assert "older FGSM / PGD" in capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [
    (["--objectives", "simclr,swav"], "unknown objective"),
    (["--attacks", "cw"], "unknown attack"),
    (["--encoder", "no-such"], "unknown encoder"),
    (["--pgd-steps", "3"], "--pgd-steps must be >= 10"),
])
def test_study_errors_are_one_line(tmp_path, capsys, study_store, flags, message):
    assert main(_argv(study_store, tmp_path / "x", *flags)) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_study_help_has_example(capsys):
    with pytest.raises(SystemExit):
        main(["study", "contrastive-robustness", "--help"])
    assert "examples:" in capsys.readouterr().out


def test_run_held_by_a_live_process_is_skipped_and_a_stale_lock_taken_over(tmp_path, study_store, capsys):
    import os
    import subprocess

    out = tmp_path / "study"
    run = out / "runs" / "simclr-seed5"
    run.mkdir(parents=True)
    (run / "running.lock").write_text(str(os.getppid()))             # a live process holds it
    argv = _argv(study_store, out, "--objectives", "simclr", "--seeds", "5")
    assert main(argv) == 0
    assert "being computed by another process" in capsys.readouterr().out
    assert not (run / "robustness.json").exists() and not (out / "report.md").exists()
    dead = subprocess.Popen(["true"])
    dead.wait()
    (run / "running.lock").write_text(str(dead.pid))                 # its process is gone: stale
    assert main(argv) == 0
    assert (run / "robustness.json").exists() and not (run / "running.lock").exists()


def test_input_scale_note_for_raw_millivolt_encoders_on_recorded_data():
    from ecgfoundry.cli.main import input_scale_note

    note = input_scale_note("transformer-tiny", "ptbxl")
    assert note and "transformer-tiny" in note and "ptbxl" in note and "resnet-small" in note
    assert input_scale_note("resnet-small", "ptbxl") is None      # z-scored input
    assert input_scale_note("transformer-tiny", "synthetic") is None
    from ecgfoundry.models.registry import get_encoder_config

    # pretrain passes the model's EncoderConfig: the CPU default transformer sees raw mV, the recipe's resnet does not
    assert "transformer" in input_scale_note(get_encoder_config("transformer-cpu"), "ptbxl")
    assert input_scale_note(get_encoder_config("resnet-cpu"), "ptbxl") is None
