"""Lead x time patching of 12-lead ECGs into tokens (SCAR's spatio-temporal tokens).

Each lead is cut into consecutive, non-overlapping temporal patches of ``patch_size`` samples; a
signal whose length is not a multiple of ``patch_size`` is padded at the end with zeros that are
marked unobserved. Tokens are ordered lead-major: token ``l * P + p`` is patch ``p`` of lead ``l``.

Token-observed rule: a token is observed iff at least ``min_observed_fraction`` of its samples
are observed (default 0.5, "most of its samples"). A fully unobserved token is therefore always
unobserved (the fraction must be > 0). Partly observed tokens that pass the rule still carry their
per-sample ``observed`` mask, which the token encoder sees next to the zero-filled samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["Patches", "patchify", "n_time_patches"]


@dataclass
class Patches:
    """Patched ECGs.

    Attributes
    ----------
    values : Tensor of shape (N, L * P, patch_size), float
        Samples of each token (zero where unobserved).
    sample_observed : Tensor of shape (N, L * P, patch_size), bool
        Per-sample observed mask of each token.
    token_observed : Tensor of shape (N, L * P), bool
        Token-observed rule applied (see module docstring).
    lead_ids : Tensor of shape (L * P,), long
        Lead index 0..L-1 of each token.
    time_ids : Tensor of shape (L * P,), long
        Patch (time) index 0..P-1 of each token.
    """

    values: Tensor
    sample_observed: Tensor
    token_observed: Tensor
    lead_ids: Tensor
    time_ids: Tensor

    @property
    def n_time(self) -> int:
        return int(self.time_ids.max().item()) + 1 if self.time_ids.numel() else 0


def n_time_patches(n_samples: int, patch_size: int) -> int:
    """Number of patches per lead for ``n_samples`` samples (the last one padded)."""
    return -(-int(n_samples) // int(patch_size))


def patchify(signal: Tensor, observed: Tensor, patch_size: int,
             min_observed_fraction: float = 0.5) -> Patches:
    """Cut ``(N, L, T)`` signals into ``L * ceil(T / patch_size)`` tokens.

    Parameters
    ----------
    signal : Tensor of shape (N, L, T), float, millivolts
    observed : Tensor of shape (N, L, T), bool
    patch_size : int
        Samples per patch.
    min_observed_fraction : float in (0, 1]
        A token is observed iff at least this fraction of its samples is observed.

    Returns
    -------
    Patches

    Examples
    --------
    >>> x = torch.zeros(2, 12, 1000); m = torch.ones(2, 12, 1000, dtype=torch.bool)
    >>> p = patchify(x, m, 50)
    >>> tuple(p.values.shape), tuple(p.token_observed.shape)
    ((2, 240, 50), (2, 240))
    """
    if signal.ndim != 3:
        raise ValueError(f"signal must be (N, L, T), got shape {tuple(signal.shape)}")
    if tuple(observed.shape) != tuple(signal.shape):
        raise ValueError(f"observed {tuple(observed.shape)} must have the shape of signal {tuple(signal.shape)}")
    if patch_size <= 0:
        raise ValueError(f"patch_size must be positive, got {patch_size}")
    if not 0 < min_observed_fraction <= 1:
        raise ValueError(f"min_observed_fraction must be in (0, 1], got {min_observed_fraction}")
    n, n_leads, t = signal.shape
    n_time = n_time_patches(t, patch_size)
    pad = n_time * patch_size - t
    observed = observed.to(torch.bool)
    # Zero-fill unobserved samples so the values agree with the mask whatever the caller passed.
    values = torch.where(observed, signal, torch.zeros((), dtype=signal.dtype, device=signal.device))
    if pad:
        values = F.pad(values, (0, pad))
        observed = F.pad(observed, (0, pad), value=False)
    values = values.reshape(n, n_leads * n_time, patch_size)
    sample_observed = observed.reshape(n, n_leads * n_time, patch_size)
    needed = min_observed_fraction * patch_size
    # Count with a small tolerance so fraction=0.5 of 50 samples means ">= 25 samples".
    token_observed = sample_observed.sum(-1).to(torch.float32) >= needed - 1e-6
    device = signal.device
    lead_ids = torch.arange(n_leads, device=device).repeat_interleave(n_time)
    time_ids = torch.arange(n_time, device=device).repeat(n_leads)
    return Patches(values, sample_observed, token_observed, lead_ids, time_ids)
