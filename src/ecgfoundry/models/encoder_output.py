"""The output every ECG encoder returns."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

__all__ = ["EncoderOutput"]


@dataclass
class EncoderOutput:
    """Token features of a batch of ECGs.

    Attributes
    ----------
    tokens : Tensor of shape (N, M, D)
        One feature vector per token: lead x time patches for the transformer, time steps for
        convolutional encoders.
    token_observed : Tensor of shape (N, M), bool
        False for tokens built from (mostly) missing samples; they are ignored by pooling.
    pooled : Tensor of shape (N, D)
        The encoder's own pooling over observed tokens (masked mean for the transformer,
        attention pooling for the ResNets); zeros for a record without observed tokens.
    """

    tokens: Tensor
    token_observed: Tensor
    pooled: Tensor
