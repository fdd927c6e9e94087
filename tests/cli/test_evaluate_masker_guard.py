"""The masker attack is checked before any work: a SCAR masker on a conv encoder (the shipped
ptbxl-scar is a resnet1d) gates time steps that have no place on the signal grid, so evaluate skips
that attack with a note when the model's own masker would attack, and refuses it in one line when
--attack-masker names such a model; before, both failed at the very end of the run."""

from __future__ import annotations

import json

import pytest

from ecgfoundry.cli.main import main


@pytest.fixture(scope="module")
def conv_scar_run(eval_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("conv_scar") / "run"
    assert main(["pretrain", "--preset", "scar", "--encoder", "resnet1d-tiny", "--text-kind", "hashing", "--data",
                 str(eval_store.path), "--out", str(out), "--steps", "2", "--batch-size", "8", "--warmup-steps", "1",
                 "--no-progress"]) == 0
    return out


def test_unsupported_masker_reasons(conv_scar_run, tiny_run):
    from ecgfoundry.checkpoint import load_model
    from ecgfoundry.eval.masker_attack import masker_attack_unsupported

    assert "resnet1d" in masker_attack_unsupported(load_model(conv_scar_run))
    assert masker_attack_unsupported(load_model(tiny_run)) is None


def test_conv_masker_skipped_with_a_note_or_refused_up_front(tmp_path, capsys, eval_store, conv_scar_run, tiny_run):
    base = ["evaluate", "--data", str(eval_store.path), "--label-set", "synthetic", "--protocol", "adversarial",
            "--eps", "0.05", "--attack-records", "4", "--n-boot", "0", "--no-progress"]
    assert main(base + ["--model", str(conv_scar_run), "--out", str(tmp_path / "own")]) == 0
    assert "note: no masker attack" in capsys.readouterr().err
    m = json.loads((tmp_path / "own" / "metrics.json").read_text())
    assert "masker_attack" not in m and {r["attack"] for r in m["adversarial"]} == {"none", "fgsm", "pgd", "worst"}

    assert main(base + ["--model", str(tiny_run), "--attack-masker", str(conv_scar_run),
                        "--out", str(tmp_path / "transfer")]) == 2
    err = capsys.readouterr().err
    assert "lead x time token encoder" in err and "Traceback" not in err
    assert not (tmp_path / "transfer").exists()  # refused before any work
