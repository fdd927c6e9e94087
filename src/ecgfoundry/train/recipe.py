"""Training recipes: named, packaged bundles of model overrides, training settings and data options
(``ecgfoundry pretrain --recipe NAME``), so a result can be reproduced from one short command.

A recipe is a JSON file in ``ecgfoundry/train/recipes/``::

    {"description": "...",
     "model": {"encoder": "resnet-cpu", ...},      # fields of ModelConfig, applied over the preset
     "train": {"steps": 1500, ...},                # fields of TrainConfig
     "data":  {"text_source": "statements", "fs": 100.0, "seconds": 10.0}}

Command-line flags override the recipe, which overrides the preset.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from ecgfoundry.models.config import ConfigError, ModelConfig

__all__ = ["list_recipes", "get_recipe", "apply_recipe"]

_DATA_KEYS = ("text_source", "fs", "seconds")


def _folder():
    return resources.files("ecgfoundry.train") / "recipes"


def list_recipes() -> list[str]:
    """Names of the packaged recipes."""
    return sorted(p.name[:-5] for p in _folder().iterdir() if p.name.endswith(".json"))


def get_recipe(name: str) -> dict[str, Any]:
    """The recipe as a dict (``KeyError`` naming the choices when unknown)."""
    if name not in list_recipes():
        raise KeyError(f"unknown recipe {name!r}; recipes: {', '.join(list_recipes())}")
    data = json.loads((_folder() / f"{name}.json").read_text())
    unknown = sorted(set(data) - {"description", "model", "train", "data"})
    if unknown:
        raise ConfigError(f"recipe {name}", f"unknown section(s) {unknown}")
    bad = sorted(set(data.get("data", {})) - set(_DATA_KEYS))
    if bad:
        raise ConfigError(f"recipe {name}.data", f"unknown key(s) {bad} (known: {', '.join(_DATA_KEYS)})")
    return data


def apply_recipe(name: str, model_cfg: ModelConfig) -> tuple[ModelConfig, dict[str, Any], dict[str, Any]]:
    """``model_cfg`` with the recipe's model overrides, and the recipe's train and data dicts."""
    from ecgfoundry.models.registry import get_encoder_config

    recipe = get_recipe(name)
    overrides = dict(recipe.get("model", {}))
    if isinstance(overrides.get("encoder"), str):
        overrides["encoder"] = get_encoder_config(overrides["encoder"]).to_dict()
    merged = model_cfg.to_dict()
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "encoder":
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return ModelConfig.from_dict(merged), dict(recipe.get("train", {})), dict(recipe.get("data", {}))
