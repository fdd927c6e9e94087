"""Input normalisation inside the ECG encoders, so that every caller (training, evaluation,
benchmark, report, adversarial attacks) feeds the network the same scale.

Raw millivolts are a poor network input: the median |x| of PTB-XL at 100 Hz is about 0.06 mV,
so the bias terms of the first layer dominate and every pair of records starts with nearly the
same features. ``zscore`` standardises each lead of each record over its *observed* samples
(the torch counterpart of :func:`ecgfoundry.signals.normalize.zscore`); it is differentiable, so
attacks with ε in mV still act on the raw signal.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["INPUT_NORMS", "normalize_input", "zscore_leads"]

INPUT_NORMS = ("none", "zscore")


def zscore_leads(signal: Tensor, observed: Tensor, floor: float = 0.01) -> Tensor:
    """Per-record, per-lead ``(x - mean) / max(std, floor)`` over observed samples.

    Parameters
    ----------
    signal : Tensor of shape (N, L, T), millivolts
    observed : Tensor of shape (N, L, T), bool
    floor : float, mV
        Floor of the standard deviation (population), so a flat or almost flat lead is not blown up
        into noise (a lead with std 0.001 mV is divided by 0.01, not by 0.001).

    Returns
    -------
    Tensor of shape (N, L, T)
        Zero on unobserved samples and on leads without any observed sample.

    Examples
    --------
    >>> x = torch.tensor([[[1.0, 3.0, 7.0]]]); m = torch.tensor([[[True, True, False]]])
    >>> zscore_leads(x, m).tolist()
    [[[-1.0, 1.0, 0.0]]]
    """
    obs = observed.to(torch.bool)
    w = obs.to(signal.dtype)
    x = signal * w
    n = w.sum(-1, keepdim=True).clamp(min=1.0)
    mean = x.sum(-1, keepdim=True) / n
    centred = (signal - mean) * w
    std = (centred.pow(2).sum(-1, keepdim=True) / n).sqrt()
    return centred / std.clamp(min=floor)


def normalize_input(signal: Tensor, observed: Tensor, kind: str) -> Tensor:
    """Apply the encoder's ``input_norm`` (``"none"``: zero-fill unobserved samples only)."""
    if kind == "zscore":
        return zscore_leads(signal, observed)
    if kind == "none":
        return torch.where(observed.to(torch.bool), signal, torch.zeros((), dtype=signal.dtype, device=signal.device))
    raise ValueError(f"input_norm must be one of {INPUT_NORMS}, got {kind!r}")
