"""Config validation names the field; dict / JSON round trips."""

from __future__ import annotations

import json

import pytest

from ecgfoundry.models.config import (ConfigError, EncoderConfig, MaskerConfig, ModelConfig, SelectorConfig,
                                      TextConfig)
from ecgfoundry.models.registry import get_model_config, list_models


@pytest.mark.parametrize("cls, kwargs, field", [
    (EncoderConfig, {"patch_size": 0}, "patch_size"),
    (EncoderConfig, {"kind": "lstm"}, "kind"),
    (EncoderConfig, {"d_model": 30, "heads": 4}, "heads"),
    (EncoderConfig, {"dropout": 1.0}, "dropout"),
    (EncoderConfig, {"attn_dropout": 1.0}, "attn_dropout"),
    (EncoderConfig, {"attn_dropout": "none"}, "attn_dropout"),
    (EncoderConfig, {"min_observed_fraction": 0.0}, "min_observed_fraction"),
    (EncoderConfig, {"resnet_layers": (2, 2), "resnet_widths": (8,)}, "resnet_widths"),
    (EncoderConfig, {"fs": -1.0}, "fs"),
    (TextConfig, {"mode": "thawed"}, "mode"),
    (TextConfig, {"mode": "finetune", "finetune_top_n": 0}, "finetune_top_n"),
    (TextConfig, {"max_tokens": 0}, "max_tokens"),
    (MaskerConfig, {"budget": 1.5}, "budget"),
    (MaskerConfig, {"tau": 0.0}, "tau"),
    (MaskerConfig, {"mode": "evil"}, "mode"),
    (MaskerConfig, {"logit_bound": -1.0}, "logit_bound"),
    (MaskerConfig, {"centre": "yes"}, "centre"),
    (MaskerConfig, {"input": "raw"}, "input"),
    (SelectorConfig, {"enabled": "yes"}, "enabled"),
    (ModelConfig, {"embed_dim": -3}, "embed_dim"),
    (ModelConfig, {"objective": "swav"}, "objective"),
    (ModelConfig, {"init_temperature": 0.0}, "init_temperature"),
    (ModelConfig, {"lambda_cons": -1.0}, "lambda_cons"),
    (ModelConfig, {"objective": "scar", "masker": MaskerConfig(mode="none")}, "masker.mode"),
    (ModelConfig, {"objective": "clip", "masker": MaskerConfig(mode="random")}, "masker.mode"),
    (ModelConfig, {"objective": "clip", "use_consistency": True}, "use_consistency"),
    (ModelConfig, {"objective": "scar", "masker": MaskerConfig(mode="random", centre=True)}, "masker.centre"),
    (ModelConfig, {"objective": "scar", "masker": MaskerConfig(centre=True),
                   "encoder": EncoderConfig(kind="resnet1d")}, "masker.centre"),
])
def test_validation_error_names_field(cls, kwargs, field):
    with pytest.raises(ConfigError) as info:
        cls(**kwargs)
    assert info.value.field == field
    assert str(info.value).startswith(field + ":")


def test_nested_error_has_dotted_path_and_unknown_key_is_named():
    data = ModelConfig().to_dict()
    data["encoder"]["patch_size"] = 0
    with pytest.raises(ConfigError, match=r"^encoder\.patch_size:"):
        ModelConfig.from_dict(data)
    with pytest.raises(ConfigError, match=r"^masker\.bugdet:"):
        ModelConfig.from_dict({"masker": {"bugdet": 0.2}})


@pytest.mark.parametrize("name", list_models())
def test_json_round_trip_of_every_preset(name):
    cfg = get_model_config(name)
    text = cfg.to_json()
    back = ModelConfig.from_json(text)
    assert back == cfg
    assert json.loads(text)["encoder"]["kind"] == cfg.encoder.kind
    assert isinstance(back.encoder.resnet_layers, tuple)


def test_configs_are_frozen():
    cfg = EncoderConfig()
    with pytest.raises(Exception):
        cfg.patch_size = 3  # type: ignore[misc]
    assert cfg.replace(patch_size=25).patch_size == 25
