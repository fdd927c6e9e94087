"""Training-time missingness augmentation of ECG batches (SCAR pretraining).

Random lead masking (each lead dropped with probability ``lead_drop_p``, at least one observed lead
kept) and one random temporal span per lead covering 5–10 % of the record, both zero-filled and
marked unobserved. Runs in torch on the batch's device, with an explicit ``torch.Generator``
(which must live on that device) for reproducibility.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["MissingnessAugment"]


class MissingnessAugment:
    """Random lead dropping + one random zeroed temporal span per lead.

    Parameters
    ----------
    lead_drop_p : float in [0, 1)
        Probability that a lead is dropped. If every observed lead of a record would be dropped,
        one observed lead (chosen at random) is kept.
    span_min, span_max : float in [0, 1]
        Fraction of the T samples covered by the span of each lead (uniform in [span_min, span_max]);
        span_max = 0 disables spans.

    Examples
    --------
    >>> aug = MissingnessAugment()
    >>> x = torch.randn(2, 12, 1000); m = torch.ones_like(x, dtype=torch.bool)
    >>> x2, m2 = aug(x, m, torch.Generator().manual_seed(0))
    >>> bool((x2[~m2] == 0).all()), bool(m2.any(-1).any(-1).all())
    (True, True)
    """

    def __init__(self, lead_drop_p: float = 0.2, span_min: float = 0.05, span_max: float = 0.10):
        if not 0 <= lead_drop_p < 1:
            raise ValueError(f"lead_drop_p must be in [0, 1), got {lead_drop_p}")
        if not 0 <= span_min <= span_max <= 1:
            raise ValueError(f"need 0 <= span_min <= span_max <= 1, got {span_min}, {span_max}")
        self.lead_drop_p = float(lead_drop_p)
        self.span_min = float(span_min)
        self.span_max = float(span_max)

    def __call__(self, signal: Tensor, observed: Tensor,
                 generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Augment ``signal`` (N, L, T) and ``observed`` (N, L, T) bool; returns new tensors."""
        if signal.ndim != 3 or observed.shape != signal.shape:
            raise ValueError(f"signal and observed must both be (N, L, T), got {tuple(signal.shape)} "
                             f"and {tuple(observed.shape)}")
        n, n_leads, t = signal.shape
        dev = signal.device
        observed = observed.to(torch.bool)
        keep = observed.clone()

        if self.lead_drop_p > 0:
            lead_obs = observed.any(-1)  # (N, L)
            r = torch.rand((n, n_leads), device=dev, generator=generator)
            drop = (r < self.lead_drop_p) & lead_obs
            lost_all = lead_obs.any(-1) & ~(lead_obs & ~drop).any(-1)
            rescue_idx = r.masked_fill(~lead_obs, -1.0).argmax(-1)
            rescue = F.one_hot(rescue_idx, n_leads).to(torch.bool) & lost_all[:, None]
            drop = drop & ~rescue
            keep &= ~drop[:, :, None]

        if self.span_max > 0 and t > 0:
            frac = self.span_min + (self.span_max - self.span_min) * torch.rand(
                (n, n_leads), device=dev, generator=generator)
            length = (frac * t).round().long().clamp(0, t)
            start = (torch.rand((n, n_leads), device=dev, generator=generator) * (t - length + 1)).floor().long()
            pos = torch.arange(t, device=dev)
            in_span = (pos >= start[..., None]) & (pos < (start + length)[..., None])
            keep &= ~in_span

        out = torch.where(keep, signal, torch.zeros((), dtype=signal.dtype, device=dev))
        return out, keep
