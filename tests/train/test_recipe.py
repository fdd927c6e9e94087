"""Training recipes: packaged JSON bundles applied over a preset; command-line flags override them."""

from __future__ import annotations

import json

import pytest

from ecgfoundry.models.config import ConfigError
from ecgfoundry.models.registry import get_encoder_config, get_model_config
from ecgfoundry.train.recipe import apply_recipe, get_recipe, list_recipes


def test_ptbxl_cpu_recipe_applies_over_every_text_preset():
    assert "ptbxl-cpu" in list_recipes()
    raw = get_recipe("ptbxl-cpu")
    for preset in ("clip", "merl", "scar", "scar-randmask-mean", "scar-randmask-mean-cons", "scar-advmask-mean",
                   "scar-advmask-sel"):
        base = get_model_config(preset)
        cfg, train, data = apply_recipe("ptbxl-cpu", base)
        assert cfg.encoder == get_encoder_config(raw["model"]["encoder"])
        assert cfg.encoder.input_norm == "zscore" and cfg.text.pooling == "sentences"
        # what the recipe does not name is the preset's own
        assert (cfg.objective, cfg.masker, cfg.selector, cfg.use_consistency) == (
            base.objective, base.masker, base.selector, base.use_consistency)
        assert cfg.text.model == base.text.model
        assert train == raw["train"] and data == raw["data"]


def test_cli_flags_override_the_recipe(tmp_path):
    from ecgfoundry.cli.main import build_parser
    from ecgfoundry.cli.pretrain import _configs

    args = build_parser().parse_args(["pretrain", "--preset", "scar", "--recipe", "ptbxl-cpu", "--steps", "7",
                                      "--encoder", "transformer-tiny", "--data", str(tmp_path), "--out",
                                      str(tmp_path / "run")])
    model_cfg, train_cfg = _configs(args)
    assert train_cfg.steps == 7 and train_cfg.batch_size == get_recipe("ptbxl-cpu")["train"]["batch_size"]
    assert train_cfg.masker_lr_schedule == "cosine"
    assert model_cfg.encoder == get_encoder_config("transformer-tiny")
    assert args.recipe_data["text_source"] == "statements"


def test_unknown_recipe_and_bad_recipe_files(tmp_path, monkeypatch, capsys):
    from ecgfoundry.cli.main import main
    import ecgfoundry.train.recipe as recipe

    assert main(["pretrain", "--recipe", "nope", "--data", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "ptbxl-cpu" in capsys.readouterr().err
    (tmp_path / "odd.json").write_text(json.dumps({"model": {}, "extra": 1}))
    monkeypatch.setattr(recipe, "_folder", lambda: tmp_path)
    with pytest.raises(ConfigError, match="unknown section"):
        get_recipe("odd")
