"""Full-view consistency of the masked-view embedding (SCAR).

Liu, Han, Zhou, Yao: "SCAR: Semantic Compensation via Adversarial Removal" (robust ECG–language
pretraining): ``L_cons = 1 - cos(z(m), stopgrad(z))``, pulling the embedding of the masked view
towards that of the complete ECG, averaged over the batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ConsistencyLoss"]


class ConsistencyLoss(nn.Module):
    """``mean_i (1 - cos(masked_i, stopgrad(full_i)))``; key ``"consistency"``.

    Parameters
    ----------
    eps : float
        Added to norms in the cosine (a zero vector gives cosine 0, loss 1, no NaN).
    """

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        if not eps > 0:
            raise ValueError(f"eps must be positive, got {eps}")
        self.eps = float(eps)

    def forward(self, masked: Tensor, full: Tensor) -> dict[str, Tensor]:
        """``masked``, ``full``: (N, E). No gradient flows into ``full``."""
        if masked.shape != full.shape or masked.ndim != 2:
            raise ValueError(f"masked and full must both be (N, E), got {tuple(masked.shape)} and "
                             f"{tuple(full.shape)}")
        dtype = torch.promote_types(masked.dtype, torch.float32)  # half precision -> float32
        cos = F.cosine_similarity(masked.to(dtype), full.detach().to(dtype), dim=-1, eps=self.eps)
        return {"consistency": (1.0 - cos).mean()}
