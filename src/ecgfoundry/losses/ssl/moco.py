"""MoCo: InfoNCE of a query against its momentum key and a queue of past keys.

He, Fan, Wu, Xie & Girshick, "Momentum Contrast for Unsupervised Visual Representation Learning",
CVPR 2020 (the MLP head and temperature follow MoCo v2, Chen et al. 2020).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from ecgfoundry.losses.clip import _dist_info

__all__ = ["MoCoLoss", "KeyQueue", "gather_keys"]


def gather_keys(keys: Tensor, rank: int | None = None, world_size: int | None = None) -> Tensor:
    """The keys of every rank in rank order, without gradient (the local keys when not distributed)."""
    rank, world_size = _dist_info(rank, world_size)
    keys = keys.detach()
    if world_size <= 1:
        return keys
    parts = [torch.empty_like(keys) for _ in range(world_size)]
    dist.all_gather(parts, keys.contiguous())
    return torch.cat(parts, dim=0)


class KeyQueue(nn.Module):
    """A first-in first-out queue of ``size`` L2-normalised keys of width ``dim`` (MoCo's dictionary).

    The queue starts with random unit vectors (from the global torch RNG, as in MoCo); every
    :meth:`enqueue` writes the new keys at ``ptr`` and advances it modulo ``size`` (a batch that
    crosses the end wraps to the start; any batch size works). The queue, the pointer and the number
    of enqueue calls are buffers, so they are saved in checkpoints.

    Examples
    --------
    >>> q = KeyQueue(5, 3)
    >>> q.enqueue(torch.randn(4, 3)); q.enqueue(torch.randn(4, 3))
    >>> int(q.ptr), int(q.n_enqueued)
    (3, 2)
    """

    def __init__(self, size: int, dim: int):
        super().__init__()
        if size < 1 or dim < 1:
            raise ValueError(f"size and dim must be >= 1, got {size}, {dim}")
        self.register_buffer("keys", F.normalize(torch.randn(size, dim), dim=1))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("n_enqueued", torch.zeros((), dtype=torch.long))

    @property
    def size(self) -> int:
        return int(self.keys.shape[0])

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Write ``keys`` (B, dim) (detached, normalised) over the oldest entries."""
        if keys.ndim != 2 or keys.shape[1] != self.keys.shape[1]:
            raise ValueError(f"keys must be (B, {self.keys.shape[1]}), got {tuple(keys.shape)}")
        keys = F.normalize(keys.detach().to(self.keys.dtype), dim=1)
        b = keys.shape[0]
        if b > self.size:  # only the newest `size` keys survive
            keys, start = keys[-self.size:], int(self.ptr) + b - self.size
            b = self.size
        else:
            start = int(self.ptr)
        pos = (start + torch.arange(b, device=self.keys.device)) % self.size
        self.keys[pos] = keys
        self.ptr.fill_((start + b) % self.size)
        self.n_enqueued += 1


class MoCoLoss(nn.Module):
    """InfoNCE of each query against its positive key and the queued negatives.

    ``l_i = -log( exp(q_i . k_i / tau) / (exp(q_i . k_i / tau) + sum_j exp(q_i . n_j / tau)) )`` with
    q, k and the queue entries n_j L2-normalised; ``L = mean_i l_i``. The keys carry no gradient
    (they come from the momentum encoder). Under DDP every rank uses its own queries and keys and the
    shared queue (which holds the keys gathered from every rank, :func:`gather_keys`).

    Parameters
    ----------
    temperature : float
        tau (MoCo: 0.07; MoCo v2: 0.2).
    name : str

    Examples
    --------
    >>> loss = MoCoLoss(0.2)
    >>> sorted(loss(torch.randn(4, 8), torch.randn(4, 8), torch.randn(16, 8)))
    ['contrastive']
    """

    def __init__(self, temperature: float = 0.2, name: str = "contrastive"):
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)
        self.name = name

    def forward(self, q: Tensor, k: Tensor, queue: Tensor) -> dict[str, Tensor]:
        """``q`` (N, E) queries, ``k`` (N, E) their keys, ``queue`` (K, E) negatives."""
        if q.ndim != 2 or q.shape != k.shape or queue.ndim != 2 or queue.shape[1] != q.shape[1]:
            raise ValueError(f"q, k must be (N, E) and queue (K, E); got {tuple(q.shape)}, {tuple(k.shape)}, "
                             f"{tuple(queue.shape)}")
        dtype = torch.promote_types(q.dtype, torch.float32)
        q = F.normalize(q.to(dtype), dim=1)
        k = F.normalize(k.detach().to(dtype), dim=1)
        neg = F.normalize(queue.detach().to(dtype), dim=1)
        logits = torch.cat([(q * k).sum(1, keepdim=True), q @ neg.T], dim=1) / self.temperature
        labels = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)
        return {self.name: F.cross_entropy(logits, labels)}
