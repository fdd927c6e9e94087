"""Registry: names, aliases, overrides, package data."""

from __future__ import annotations

import pytest

from ecgfoundry.models.config import ConfigError, EncoderConfig, TextConfig
from ecgfoundry.models.registry import (create_model, get_encoder_config, get_model_config, list_encoders,
                                        list_models, model_description)

PRESETS = {"clip", "merl", "scar", "scar-randmask-mean", "scar-randmask-mean-cons", "scar-advmask-mean",
           "scar-advmask-sel", "scar-leadmask"}
ENCODERS = {"transformer-tiny", "resnet1d-tiny", "transformer-cpu", "transformer-base", "resnet18", "resnet34",
            "resnet-cpu", "resnet-small"}


def test_names_registered():
    assert PRESETS <= set(list_models())
    assert ENCODERS <= set(list_encoders())
    assert all(model_description(name) for name in list_models())


def test_cpu_default_token_budget():
    cfg = get_encoder_config("transformer-cpu")
    n_tokens = cfg.n_leads * (int(cfg.fs * 10) // cfg.patch_size)
    assert 100 <= n_tokens <= 250


def test_resnet_depths():
    assert get_encoder_config("resnet18").resnet_layers == (2, 2, 2, 2)
    assert get_encoder_config("resnet34").resnet_layers == (3, 4, 6, 3)


def test_resnet_small_is_a_cheaper_resnet_cpu():
    """resnet-small (the contrastive-robustness study's PTB-XL encoder): resnet-cpu's depth and z-scored
    input at half its widths, about a quarter of its parameters."""
    from ecgfoundry.models.build import build_encoder

    small, cpu = get_encoder_config("resnet-small"), get_encoder_config("resnet-cpu")
    assert small.input_norm == cpu.input_norm == "zscore"
    assert small.resnet_layers == cpu.resnet_layers
    n_small, n_cpu = (sum(p.numel() for p in build_encoder(c).parameters()) for c in (small, cpu))
    assert 0.15 < n_small / n_cpu < 0.35


def test_alias_and_ablation_flags():
    assert get_model_config("full") == get_model_config("scar")
    rows = {name: get_model_config(name) for name in PRESETS}
    assert rows["scar"].masker.mode == "adversarial" and rows["scar"].selector.enabled and rows["scar"].use_consistency
    assert rows["scar-randmask-mean"].masker.mode == "random" and not rows["scar-randmask-mean"].selector.enabled
    assert rows["scar-randmask-mean-cons"].use_consistency
    assert rows["scar-advmask-mean"].masker.mode == "adversarial" and not rows["scar-advmask-mean"].selector.enabled
    assert rows["scar-advmask-sel"].selector.enabled and not rows["scar-advmask-sel"].use_consistency
    assert rows["scar-leadmask"].masker.unit == "lead" and rows["scar-leadmask"].masker.estimator == "score"
    assert rows["scar-leadmask"].selector.enabled and rows["scar-leadmask"].use_consistency
    assert rows["clip"].objective == "clip" and rows["merl"].objective == "merl"


def test_overrides():
    cfg = get_model_config("scar", encoder="resnet1d-tiny", text={"kind": "hashing"}, lambda_cons=0.5,
                           masker={"budget": 0.2})
    assert cfg.encoder.kind == "resnet1d" and cfg.text.kind == "hashing" and cfg.text.mode == "frozen"
    assert cfg.masker.budget == 0.2 and cfg.masker.mode == "adversarial" and cfg.lambda_cons == 0.5
    cfg2 = get_model_config("clip", encoder=EncoderConfig(d_model=16, heads=2), text=TextConfig(kind="hashing"))
    assert cfg2.encoder.d_model == 16
    assert get_encoder_config("transformer-tiny", depth=2).depth == 2


def test_errors_are_clear():
    with pytest.raises(KeyError, match="registered"):
        get_model_config("no-such-model")
    with pytest.raises(ConfigError, match="^encoder:"):
        get_model_config("clip", encoder="no-such-encoder")
    with pytest.raises(ConfigError, match="^lambda_mask:"):
        get_model_config("scar", lambda_mask=-1.0)
    with pytest.raises(ConfigError, match="^masker.mode:"):
        get_model_config("clip", masker={"mode": "random"})


def test_create_model_from_config_and_dict():
    cfg = get_model_config("clip", encoder="transformer-tiny", text={"kind": "hashing"})
    assert create_model(cfg).cfg == cfg
    assert create_model(cfg.to_dict()).cfg == cfg
    d = cfg.to_dict()
    d["encoder"] = "resnet1d-tiny"
    assert create_model(d).cfg.encoder.kind == "resnet1d"
