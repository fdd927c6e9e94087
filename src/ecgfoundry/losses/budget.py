"""Masking budget of the adversarial masker (SCAR).

Liu, Han, Zhou, Yao: "SCAR: Semantic Compensation via Adversarial Removal": the masker may remove
about a fraction rho of the tokens, enforced by ``L_budget = (mean g - rho)^2`` where the mean runs
over the observed tokens of the batch.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["MaskBudgetLoss"]


class MaskBudgetLoss(nn.Module):
    """``(mean g - rho)^2`` over observed tokens; keys ``"budget"`` and ``"mask_rate"`` (mean g,
    detached, for logging).

    Parameters
    ----------
    budget : float in (0, 1)
        rho, the target fraction of removed tokens.
    """

    def __init__(self, budget: float = 0.3):
        super().__init__()
        if not 0 < budget < 1:
            raise ValueError(f"budget must be in (0, 1), got {budget}")
        self.budget = float(budget)

    def forward(self, gate: Tensor, token_observed: Tensor | None = None) -> dict[str, Tensor]:
        """``gate`` (N, M) in [0, 1]; ``token_observed`` (N, M) bool or None (all tokens count).

        A batch without observed tokens has mean gate 0 by convention.
        """
        g = gate.to(torch.promote_types(gate.dtype, torch.float32))
        if token_observed is None:
            mean = g.mean()
        else:
            w = token_observed.to(g.dtype)
            mean = (g * w).sum() / w.sum().clamp_min(1.0)
        return {"budget": (mean - self.budget) ** 2, "mask_rate": mean.detach()}
