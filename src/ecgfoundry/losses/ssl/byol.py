"""BYOL: the online network's prediction regresses the EMA target's projection of the other view.

Grill et al., "Bootstrap Your Own Latent: A New Approach to Self-Supervised Learning", NeurIPS 2020.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["BYOLLoss"]


class BYOLLoss(nn.Module):
    """Normalised mean squared error ``||p/|p| - z/|z| ||^2 = 2 - 2 cos(p, z)``, averaged over records.

    ``z`` (the target projection) is treated as a constant (stop-gradient). The model symmetrises:
    ``L = (loss(p1, z2') + loss(p2, z1')) / 2``, where ``p`` are online predictions and ``z'`` target
    projections of the two views (the paper sums the two terms; the mean halves the scale only).
    No negatives, so nothing is gathered under DDP.

    Examples
    --------
    >>> loss = BYOLLoss()
    >>> p = torch.randn(4, 8)
    >>> float(loss(p, 3 * p)["byol"]) < 1e-6
    True
    """

    def __init__(self, name: str = "byol"):
        super().__init__()
        self.name = name

    def forward(self, p: Tensor, z: Tensor) -> dict[str, Tensor]:
        """``p`` (N, E) online predictions, ``z`` (N, E) target projections."""
        if p.ndim != 2 or p.shape != z.shape:
            raise ValueError(f"p and z must both be (N, E), got {tuple(p.shape)} and {tuple(z.shape)}")
        dtype = torch.promote_types(p.dtype, torch.float32)
        cos = F.cosine_similarity(p.to(dtype), z.detach().to(dtype), dim=1, eps=1e-8)
        return {self.name: (2 - 2 * cos).mean()}
