"""Momentum (EMA) targets for MoCo and BYOL: the update and BYOL's cosine schedule."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["update_momentum", "cosine_momentum"]


@torch.no_grad()
def update_momentum(online: nn.Module, target: nn.Module, m: float) -> None:
    """``theta_target <- m * theta_target + (1 - m) * theta_online`` for every parameter, in place.

    The two modules must have the same architecture (the target is a copy of the online network).
    Buffers (BatchNorm statistics) are not averaged: the target keeps its own, as in MoCo and BYOL
    (He et al. 2020, Grill et al. 2020).
    """
    if not 0 <= m <= 1:
        raise ValueError(f"momentum must be in [0, 1], got {m}")
    online_params, target_params = list(online.parameters()), list(target.parameters())
    if len(online_params) != len(target_params):
        raise ValueError("online and target networks differ in their parameters")
    for po, pt in zip(online_params, target_params):
        if po.shape != pt.shape:
            raise ValueError(f"parameter shapes differ: {tuple(po.shape)} vs {tuple(pt.shape)}")
        pt.mul_(m).add_(po.detach().to(pt.dtype), alpha=1 - m)


def cosine_momentum(step: int, total_steps: int, base: float) -> float:
    """BYOL's schedule ``m = 1 - (1 - base) (cos(pi k / K) + 1) / 2``: ``base`` at step 0, 1 at the end.

    >>> cosine_momentum(0, 100, 0.99), cosine_momentum(100, 100, 0.99)
    (0.99, 1.0)
    """
    if total_steps <= 0:
        return base
    k = min(max(step, 0), total_steps)
    return 1 - (1 - base) * (math.cos(math.pi * k / total_steps) + 1) / 2
