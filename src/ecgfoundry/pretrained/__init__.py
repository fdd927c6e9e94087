"""Shipped checkpoints: ECG–text models trained with the CPU recipe, inside the package.

Each shipped model is a checkpoint folder under ``ecgfoundry/pretrained/<name>/`` (``model.safetensors``,
``model.json``, ``meta.json``) plus its model card (``MODEL_CARD.md``: data, folds, command, seed,
metrics, input contract, licence) and ``card.json`` (the same facts, machine-readable). A shipped name
works wherever a run folder does (``--model NAME`` in ``evaluate``, ``bench``, ``report``,
``predict``), because :func:`ecgfoundry.checkpoint.resolve_checkpoint` falls back on this folder.

Examples
--------
>>> from ecgfoundry.pretrained import list_pretrained
>>> isinstance(list_pretrained(), list)
True
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["list_pretrained", "pretrained_folder", "pretrained_card", "load_pretrained"]


def _root() -> Path:
    return Path(str(resources.files("ecgfoundry") / "pretrained"))


def list_pretrained() -> list[str]:
    """Names of the shipped models (sorted)."""
    root = _root()
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "model.safetensors").exists())


def pretrained_folder(name: str) -> Path:
    """The checkpoint folder of a shipped model; ``KeyError`` naming the choices when unknown."""
    folder = _root() / str(name)
    if not (folder / "model.safetensors").exists():
        names = list_pretrained()
        raise KeyError(f"no shipped model named {name!r}; shipped: {', '.join(names) if names else 'none'}")
    return folder


def pretrained_card(name: str) -> dict[str, Any]:
    """The machine-readable model card (``card.json``) of a shipped model ({} when absent)."""
    path = pretrained_folder(name) / "card.json"
    return json.loads(path.read_text()) if path.exists() else {}


def load_pretrained(name: str, map_location: str = "cpu", text_encoder=None):
    """Load a shipped model (an :class:`~ecgfoundry.models.ecg_text.ECGTextModel`) in eval mode.

    The frozen text encoder is rebuilt from the packaged all-MiniLM-L6-v2 (offline).
    """
    from ecgfoundry.checkpoint import load_model

    model = load_model(pretrained_folder(name), map_location=map_location, text_encoder=text_encoder)
    return model.eval()
