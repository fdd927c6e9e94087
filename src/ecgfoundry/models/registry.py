"""Named architectures: JSON files in ``ecgfoundry/models/configs/`` and the factories over them.

- ``<name>.encoder.json``: an :class:`EncoderConfig` as a dict.
- ``<name>.model.json``: a :class:`ModelConfig` as a dict, where ``"encoder"`` may be the name of a
  registered encoder; an optional top-level ``"description"`` is documentation only.

Aliases: ``"full"`` is ``"scar"``.

Examples
--------
>>> "transformer-cpu" in list_encoders() and "scar" in list_models()
True
>>> get_encoder_config("transformer-tiny").kind
'transformer'
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any, Mapping

from torch import nn

from ecgfoundry.models.build import build_encoder
from ecgfoundry.models.config import SSL_OBJECTIVES, ConfigError, EncoderConfig, ModelConfig, TextConfig
from ecgfoundry.models.ecg_text import ECGTextModel
from ecgfoundry.models.ssl_model import SSLModel

__all__ = ["list_encoders", "list_models", "get_encoder_config", "get_model_config", "create_encoder",
           "create_model", "model_description", "MODEL_ALIASES"]

MODEL_ALIASES: dict[str, str] = {"full": "scar"}
_ENCODER_SUFFIX = ".encoder.json"
_MODEL_SUFFIX = ".model.json"


@lru_cache(maxsize=None)
def _read_configs(suffix: str) -> dict[str, dict[str, Any]]:
    folder = resources.files("ecgfoundry.models") / "configs"
    out: dict[str, dict[str, Any]] = {}
    for entry in folder.iterdir():
        if entry.name.endswith(suffix):
            out[entry.name[: -len(suffix)]] = json.loads(entry.read_text(encoding="utf-8"))
    return out


def list_encoders() -> list[str]:
    """Names of the registered encoder architectures, sorted."""
    return sorted(_read_configs(_ENCODER_SUFFIX))


def list_models(kind: str | None = None) -> list[str]:
    """Names of the registered model presets, sorted (aliases not included).

    ``kind="ecg-text"`` lists the ECG–text presets (clip, merl, scar, ablations), ``kind="ssl"`` the
    ECG-only self-supervised ones (simclr, moco, byol, clef); None lists all.
    """
    names = sorted(_read_configs(_MODEL_SUFFIX))
    if kind is None:
        return names
    if kind not in ("ecg-text", "ssl"):
        raise ValueError(f"kind must be None, 'ecg-text' or 'ssl', got {kind!r}")
    ssl = {n for n in names if _read_configs(_MODEL_SUFFIX)[n].get("objective") in SSL_OBJECTIVES}
    return [n for n in names if (n in ssl) == (kind == "ssl")]


def _lookup(kind: str, name: str, table: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if name not in table:
        raise KeyError(f"unknown {kind} {name!r}; registered: {', '.join(sorted(table))}")
    return dict(table[name])


def get_encoder_config(name: str, **overrides: Any) -> EncoderConfig:
    """The :class:`EncoderConfig` registered as ``name``, with fields replaced by ``overrides``."""
    data = _lookup("encoder", name, _read_configs(_ENCODER_SUFFIX))
    data.update(overrides)
    return EncoderConfig.from_dict(data)


def model_description(name: str) -> str:
    """The one-line description of a model preset."""
    name = MODEL_ALIASES.get(name, name)
    return str(_lookup("model", name, _read_configs(_MODEL_SUFFIX)).get("description", ""))


def _resolve_encoder(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return get_encoder_config(value)
        except KeyError as err:
            raise ConfigError("encoder", str(err.args[0])) from None
    return value


def _apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Merge top-level overrides into a model-config dict (encoder names resolved; a plain dict for
    a nested config replaces only the fields it names, a config object replaces the whole)."""
    data = dict(data)
    for key, value in [("encoder", data.get("encoder"))] + list(overrides.items()):
        if value is None:
            continue
        partial = isinstance(value, Mapping) and not hasattr(value, "to_dict")
        if key == "encoder":
            value = _resolve_encoder(value)
        if hasattr(value, "to_dict"):
            value = value.to_dict()
        if partial and isinstance(data.get(key), Mapping):
            value = {**data[key], **value}
        data[key] = value
    return data


def get_model_config(name: str, **overrides: Any) -> ModelConfig:
    """The :class:`ModelConfig` of preset ``name`` with top-level fields replaced by ``overrides``.

    ``encoder`` may be given as a registered encoder name, an :class:`EncoderConfig` or a dict;
    ``text``, ``masker``, ``selector`` as configs (replace) or dicts (replace only the fields named).
    """
    name = MODEL_ALIASES.get(name, name)
    data = _lookup("model", name, _read_configs(_MODEL_SUFFIX))
    data.pop("description", None)
    data.setdefault("name", name)
    return ModelConfig.from_dict(_apply_overrides(data, overrides))


def create_encoder(name: str | EncoderConfig, **overrides: Any) -> nn.Module:
    """An ECG encoder from a registered name (or a config), with config fields ``overrides``.

    >>> enc = create_encoder("transformer-tiny")
    >>> type(enc).__name__
    'TransformerEncoder'
    """
    if isinstance(name, EncoderConfig):
        cfg = name.replace(**overrides) if overrides else name
    else:
        cfg = get_encoder_config(name, **overrides)
    return build_encoder(cfg)


def create_model(name: str | ModelConfig | Mapping[str, Any], *, text_encoder: nn.Module | None = None,
                 local_loss: bool = False, gather_with_grad: bool = True, **overrides: Any
                 ) -> ECGTextModel | SSLModel:
    """An :class:`ECGTextModel` (objectives clip, merl, scar) or an ECG-only
    :class:`~ecgfoundry.models.ssl_model.SSLModel` (simclr, moco, byol, clef) from a preset name, a
    :class:`ModelConfig` or a config dict.

    Parameters
    ----------
    name : str or ModelConfig or dict
        Preset (``list_models()``, alias ``"full"``), a config, or a dict (``ModelConfig.from_dict``
        after resolving an encoder name).
    text_encoder : nn.Module or None
        Reuse an already built text encoder.
    local_loss, gather_with_grad : bool
        Distributed flags of the contrastive losses.
    **overrides
        Top-level :class:`ModelConfig` fields (see :func:`get_model_config`).

    Examples
    --------
    >>> model = create_model("scar", encoder="transformer-tiny", text=TextConfig(kind="hashing"))
    >>> model.has_adversary
    True
    """
    if isinstance(name, str):
        cfg = get_model_config(name, **overrides)
    elif isinstance(name, (ModelConfig, Mapping)):
        data = name.to_dict() if isinstance(name, ModelConfig) else dict(name)
        data.pop("description", None)
        cfg = ModelConfig.from_dict(_apply_overrides(data, overrides))
    else:
        raise TypeError(f"create_model needs a preset name, ModelConfig or dict, got {type(name).__name__}")
    cls = SSLModel if cfg.objective in SSL_OBJECTIVES else ECGTextModel
    return cls(cfg, text_encoder=text_encoder, local_loss=local_loss, gather_with_grad=gather_with_grad)


_ = TextConfig  # re-exported for the doctest above
