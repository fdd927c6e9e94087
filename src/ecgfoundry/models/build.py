"""Construct an ECG encoder module from its :class:`EncoderConfig` (no registry lookup)."""

from __future__ import annotations

from torch import nn

from ecgfoundry.models.config import EncoderConfig
from ecgfoundry.models.resnet1d import ResNet1dEncoder
from ecgfoundry.models.transformer import TransformerEncoder

__all__ = ["build_encoder", "ENCODER_CLASSES"]

ENCODER_CLASSES: dict[str, type[nn.Module]] = {
    "transformer": TransformerEncoder,
    "resnet1d": ResNet1dEncoder,
}


def build_encoder(cfg: EncoderConfig) -> nn.Module:
    """The encoder for ``cfg.kind`` (``TransformerEncoder`` or ``ResNet1dEncoder``)."""
    if not isinstance(cfg, EncoderConfig):
        raise TypeError(f"build_encoder needs an EncoderConfig, got {type(cfg).__name__}")
    return ENCODER_CLASSES[cfg.kind](cfg)
