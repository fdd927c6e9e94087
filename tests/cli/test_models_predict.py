"""Shipped models: ``models list``, name resolution wherever a run folder works, ``load_pretrained``,
and ``predict`` on a user's own record files (readable and unreadable)."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
import torch

from ecgfoundry.cli.main import main
from ecgfoundry.errors import EcgDataError


@pytest.fixture()
def shipped(tiny_run, tmp_path, monkeypatch):
    """A fake package folder of shipped models holding one model, ``tiny-shipped``."""
    import ecgfoundry.pretrained as pretrained
    from ecgfoundry.checkpoint import resolve_checkpoint

    root = tmp_path / "pretrained"
    shutil.copytree(resolve_checkpoint(tiny_run), root / "tiny-shipped")
    card = {"objective": "scar", "encoder": "transformer-tiny", "text_source": "text",
            "metrics": {"zero_shot_auroc": 0.5123, "probe_auroc_100": 0.6789}, "evaluated_on": "a test"}
    (root / "tiny-shipped" / "card.json").write_text(json.dumps(card))
    (root / "tiny-shipped" / "MODEL_CARD.md").write_text("# tiny-shipped\nA test card.\n")
    (root / "not-a-model").mkdir()
    monkeypatch.setattr(pretrained, "_root", lambda: root)
    return root


def test_models_list_and_show(shipped, capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "tiny-shipped" in out and "0.512" in out and "0.679" in out and "not-a-model" not in out
    assert main(["models", "show", "tiny-shipped"]) == 0
    assert "A test card." in capsys.readouterr().out
    assert main(["models", "show", "nope"]) == 2
    assert "tiny-shipped" in capsys.readouterr().err


def test_shipped_name_resolves_like_a_run_folder(shipped, tiny_run, tmp_path, monkeypatch):
    from ecgfoundry import load_pretrained
    from ecgfoundry.checkpoint import load_model, resolve_checkpoint

    assert resolve_checkpoint("tiny-shipped") == shipped / "tiny-shipped"
    with pytest.raises(EcgDataError, match="shipped: tiny-shipped"):
        resolve_checkpoint("no-such-model")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny-shipped").mkdir()                 # a folder of that name takes precedence, and is no run
    with pytest.raises(EcgDataError, match="not a checkpoint"):
        resolve_checkpoint("tiny-shipped")
    (tmp_path / "tiny-shipped").rmdir()
    model = load_pretrained("tiny-shipped")
    ref = load_model(tiny_run).eval()
    assert not model.training
    x = np.random.default_rng(0).normal(size=(2, 12, 1000)).astype(np.float32)
    m = np.ones_like(x, dtype=bool)
    with torch.no_grad():
        a = model.encode_ecg(torch.from_numpy(x), torch.from_numpy(m))
        b = ref.encode_ecg(torch.from_numpy(x), torch.from_numpy(m))
    torch.testing.assert_close(a, b)


def test_predict_scores_readable_files_and_names_the_unreadable_one(shipped, tmp_path, capsys):
    from ecgfoundry.checkpoint import load_model
    from ecgfoundry.eval.prompts import load_prompts, prompts_for
    from ecgfoundry.eval.zero_shot import zero_shot_classifier, zero_shot_scores
    from ecgfoundry.io.wfdb_common import read_wfdb_record

    assert main(["synth", "--n", "3", "--seed", "4", "--out", str(tmp_path / "s"), "--no-progress"]) == 0
    heas = sorted((tmp_path / "s").rglob("*.hea"))[:2]
    bad = tmp_path / "broken.hea"
    bad.write_text("this is not a header\n")
    out_csv = tmp_path / "scores.csv"
    code = main(["predict", "--model", "tiny-shipped", "--label-set", "synthetic", "--no-progress",
                 "--csv", str(out_csv), str(heas[0]), str(bad), str(heas[1])])
    captured = capsys.readouterr()
    assert code == 3                                     # some files were skipped
    assert "broken.hea" in captured.err
    rows = list(csv.DictReader(out_csv.open()))
    assert [r["record"] for r in rows] == [heas[0].stem, heas[1].stem]
    # the printed scores are the model's zero-shot scores of the same records, recomputed here
    model = load_model(shipped / "tiny-shipped").eval()
    prompts = load_prompts()
    classes = list(prompts["synthetic/synthetic"])
    clf = zero_shot_classifier(model, classes, prompts_for(prompts, "synthetic/synthetic", classes))
    sig, obs = zip(*[read_wfdb_record(h.with_suffix(""))[:2] for h in heas])
    want = zero_shot_scores(model, np.stack(sig), np.stack(obs), clf)
    got = np.array([[float(r[c]) for c in classes] for r in rows])
    np.testing.assert_allclose(got, want, atol=1e-3)
    assert [r["top"] for r in rows] == [classes[i] for i in want.argmax(1)]
    assert heas[0].stem in captured.out


def test_predict_refuses_unknown_label_set(shipped, tmp_path, capsys):
    assert main(["predict", "--model", "tiny-shipped", "--label-set", "nope", str(tmp_path / "x.hea")]) == 2
    assert "unknown prompt label set" in capsys.readouterr().err
