"""Load the ECG side of a checkpoint for the report's figures.

The figures need ``encode_ecg``, the encoder, the selector and the masker, never the text encoder.
A checkpoint whose text backbone is frozen does not store it (``meta.json`` lists the excluded
prefix), and building it means loading a transformers model (seconds to a minute on a busy CPU).
:func:`load_ecg_model` builds a stand-in of the same width instead; everything else is loaded by
:func:`ecgfoundry.checkpoint.load_model`, with its checks. Other checkpoints load as usual.
"""

from __future__ import annotations

import json
from pathlib import Path

from torch import nn

__all__ = ["TextStandIn", "load_ecg_model"]


class TextStandIn(nn.Module):
    """A text encoder of width ``dim`` without weights; :meth:`encode` refuses."""

    frozen = True

    def __init__(self, dim: int):
        super().__init__()
        self.dim = int(dim)

    def encode(self, texts):
        raise RuntimeError("this model was loaded for ECG figures only (no text encoder); "
                           "use ecgfoundry.checkpoint.load_model for text")


def _text_width(folder: Path) -> int | None:
    """Input width of the text projection stored in the checkpoint, or None."""
    from safetensors import safe_open

    try:
        with safe_open(str(folder / "model.safetensors"), framework="pt") as f:
            for key in ("text_proj.weight", "text_proj.0.weight"):
                if key in f.keys():
                    return int(f.get_slice(key).get_shape()[1])
    except Exception:  # unreadable weights: let load_model report them
        return None
    return None


def load_ecg_model(path: str | Path):
    """An :class:`~ecgfoundry.models.ecg_text.ECGTextModel` for ECG-side use, in eval mode."""
    from ecgfoundry.checkpoint import load_model, resolve_checkpoint

    folder = resolve_checkpoint(path)
    stand_in = None
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, json.JSONDecodeError):
        meta = {}
    if "text_encoder." in meta.get("excluded_prefixes", []):
        width = _text_width(folder)
        if width is not None:
            stand_in = TextStandIn(width)
    model = load_model(folder, text_encoder=stand_in)
    model.eval()
    return model
