"""Naive (explicit-loop) reference implementations of the losses."""

from __future__ import annotations

import math

import torch


def naive_infonce(a: torch.Tensor, b: torch.Tensor, scale: float) -> torch.Tensor:
    """Symmetric InfoNCE by explicit loops over rows and columns."""
    n = a.shape[0]
    total_a = 0.0
    total_b = 0.0
    for i in range(n):
        sims_a = [scale * torch.dot(a[i], b[j]) for j in range(n)]
        sims_b = [scale * torch.dot(b[i], a[j]) for j in range(n)]
        total_a = total_a - (sims_a[i] - torch.logsumexp(torch.stack(sims_a), 0))
        total_b = total_b - (sims_b[i] - torch.logsumexp(torch.stack(sims_b), 0))
    return (total_a + total_b) / (2 * n)


def naive_consistency(masked: torch.Tensor, full: torch.Tensor) -> torch.Tensor:
    total = 0.0
    for i in range(masked.shape[0]):
        cos = torch.dot(masked[i], full[i]) / (masked[i].norm() * full[i].norm())
        total = total + (1 - cos)
    return total / masked.shape[0]


def naive_budget(gate, observed, rho: float) -> float:
    vals = [gate[i][j].item() for i in range(len(gate)) for j in range(len(gate[i])) if observed[i][j]]
    mean = sum(vals) / len(vals) if vals else 0.0
    return (mean - rho) ** 2


_ = math


def naive_soft_infonce(a: torch.Tensor, b: torch.Tensor, scale: float, keys: list) -> torch.Tensor:
    """Symmetric InfoNCE whose row i counts every j with keys[j] == keys[i] as a positive, each with
    weight 1 / (number of such j), by explicit loops."""
    n = a.shape[0]
    total = 0.0
    for side_x, side_y in ((a, b), (b, a)):
        for i in range(n):
            sims = torch.stack([scale * torch.dot(side_x[i], side_y[j]) for j in range(n)])
            lse = torch.logsumexp(sims, 0)
            pos = [j for j in range(n) if keys[j] == keys[i]]
            total = total - sum((sims[j] - lse) / len(pos) for j in pos)
    return total / (2 * n)
