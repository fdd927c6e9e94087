"""Checkpoints: weights as safetensors plus the JSON configs, and the trainer state.

A checkpoint folder holds::

    model.safetensors   ECG-text model weights (a frozen text backbone is left out: it is
                        rebuilt from the config, so checkpoints stay small)
    model.json          the ModelConfig
    train.json          the TrainConfig (when written by the trainer)
    state.pt            optimiser / scheduler / RNG state and the step (tensors and plain types
                        only, loaded with ``torch.load(weights_only=True)``)
    meta.json           step, time, ecgfoundry version, excluded weight prefixes

Used by the trainer (``ecgfoundry pretrain``) and by evaluation (``load_model``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import torch

from ecgfoundry.errors import EcgDataError

FROZEN_TEXT_PREFIX = "text_encoder."


def _excluded_prefixes(model) -> list[str]:
    text = getattr(model, "text_encoder", None)
    if text is not None and getattr(text, "frozen", False):
        return [FROZEN_TEXT_PREFIX]
    return []


def save_checkpoint(folder: str | Path, model, train_cfg=None, state: dict[str, Any] | None = None,
                    step: int = 0) -> Path:
    """Write a checkpoint folder atomically (``folder.partial`` renamed at the end)."""
    from safetensors.torch import save_file

    from ecgfoundry import __version__

    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    excluded = _excluded_prefixes(model)
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()
               if not any(k.startswith(p) for p in excluded)}
    save_file(tensors, str(tmp / "model.safetensors"))
    (tmp / "model.json").write_text(model.cfg.to_json() if hasattr(model.cfg, "to_json")
                                    else json.dumps(model.cfg.to_dict(), indent=2))
    if train_cfg is not None:
        (tmp / "train.json").write_text(train_cfg.to_json())
    if state is not None:
        torch.save(state, tmp / "state.pt")
    meta = {"step": int(step), "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "ecgfoundry": __version__,
            "excluded_prefixes": excluded}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(tmp, folder)
    return folder


def _read_json(path: Path) -> dict:
    if not path.exists():
        raise EcgDataError(path, None, "missing from the checkpoint")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise EcgDataError(path, None, f"corrupt JSON ({exc})") from None


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint folder, a run folder (its latest checkpoint), or the name of a shipped model
    (``ecgfoundry models list``) when no such folder exists."""
    path = Path(path)
    if (path / "model.safetensors").exists():
        return path
    latest = path / "checkpoints" / "latest"
    if latest.exists():
        name = latest.read_text().strip()
        return path / "checkpoints" / name
    if not path.exists() and len(path.parts) == 1:
        from ecgfoundry.pretrained import list_pretrained, pretrained_folder

        if path.name in list_pretrained():
            return pretrained_folder(path.name)
        shipped = ", ".join(list_pretrained()) or "none"
        raise EcgDataError(path, None, f"no such folder, and not the name of a shipped model (shipped: {shipped})")
    raise EcgDataError(path, None, "not a checkpoint (no model.safetensors) or a run folder "
                       "(no checkpoints/latest)")


def load_model(path: str | Path, map_location: str | torch.device = "cpu", text_encoder=None):
    """Rebuild the model of a checkpoint or run folder: an :class:`~ecgfoundry.models.ecg_text.ECGTextModel`,
    or an :class:`~ecgfoundry.models.ssl_model.SSLModel` for the ECG-only objectives (``model.json``
    decides)."""
    from safetensors.torch import load_file

    from ecgfoundry.models.config import ModelConfig
    from ecgfoundry.models.registry import create_model

    folder = resolve_checkpoint(path)
    cfg = ModelConfig.from_dict(_read_json(folder / "model.json"))
    meta = _read_json(folder / "meta.json")
    model = create_model(cfg, text_encoder=text_encoder)
    try:
        weights = load_file(str(folder / "model.safetensors"), device=str(map_location))
    except Exception as exc:  # safetensors raises its own error types
        raise EcgDataError(folder / "model.safetensors", None, f"unreadable weights ({exc})") from None
    missing, unexpected = model.load_state_dict(weights, strict=False)
    excluded = tuple(meta.get("excluded_prefixes", []))
    missing = [k for k in missing if not k.startswith(excluded)] if excluded else list(missing)
    if missing or unexpected:
        raise EcgDataError(folder / "model.safetensors", None,
                           f"weights do not match model.json (missing {missing[:5]}, unexpected {unexpected[:5]})")
    return model


def load_state(folder: str | Path) -> dict[str, Any]:
    """The trainer state of a checkpoint (``weights_only`` loading: no arbitrary pickle)."""
    p = Path(folder) / "state.pt"
    if not p.exists():
        raise EcgDataError(p, None, "missing: this checkpoint cannot be resumed")
    return torch.load(p, map_location="cpu", weights_only=True)
