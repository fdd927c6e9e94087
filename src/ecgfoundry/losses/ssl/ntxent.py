"""NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR, global across DDP ranks.

Chen, Kornblith, Norouzi & Hinton, "A Simple Framework for Contrastive Learning of Visual
Representations", ICML 2020.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ecgfoundry.losses.clip import _dist_info, gather_features

__all__ = ["NTXentLoss", "nt_xent"]


def nt_xent(z0: Tensor, z1: Tensor, temperature: float, log_weights: Tensor | None = None) -> Tensor:
    """NT-Xent of two views, optionally with weighted negatives (the CLEF variant).

    With ``z = [z0; z1]`` (2N, E) L2-normalised and ``s_ab = z_a . z_b``, anchor ``a`` has the
    positive ``p(a) = a + N (mod 2N)`` and the negatives ``b not in {a, p(a)}``::

        l_a = -log( exp(s_a,p(a) / tau) / (exp(s_a,p(a) / tau) + sum_b w_ab exp(s_ab / tau)) )
        L   = mean over the 2N anchors of l_a

    Parameters
    ----------
    z0, z1 : Tensor of shape (N, E)
        The two views' embeddings (normalised here), rows paired.
    temperature : float
    log_weights : Tensor of shape (2N, 2N), optional
        ``log w_ab`` of every negative (``-inf`` removes a negative); the entries of the positive
        and of the anchor itself are ignored. None: every ``w_ab = 1`` (plain NT-Xent).
    """
    n = z0.shape[0]
    z = F.normalize(torch.cat([z0, z1], dim=0), dim=-1)
    dtype = torch.promote_types(z.dtype, torch.float32)
    logits = (z @ z.T).to(dtype) / temperature
    idx = torch.arange(2 * n, device=z.device)
    pos = (idx + n) % (2 * n)
    if log_weights is not None:
        lw = log_weights.to(dtype).clone()
        lw[idx, pos] = 0.0  # positives are never weighted
        logits = logits + lw
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    return F.cross_entropy(logits, pos)


class NTXentLoss(nn.Module):
    """NT-Xent (SimCLR) between two views, over the global batch under DDP.

    Every embedding of either view is an anchor; its positive is the other view of the same record
    and its negatives are the 2N - 2 other embeddings of the (global) batch (:func:`nt_xent`).

    Parameters
    ----------
    temperature : float
        tau (SimCLR uses 0.1-0.5).
    gather_with_grad : bool
        Under DDP the views of every rank are gathered (as :class:`~ecgfoundry.losses.clip.ClipLoss`
        does), every rank computes the global loss; with gradient, the trainer's gradient averaging
        gives the gradient of the global loss.
    rank, world_size : int or None
        Taken from ``torch.distributed`` when None and a process group is initialised.
    name : str
        Key of the loss in the returned dict.

    Examples
    --------
    >>> loss = NTXentLoss(temperature=0.5)
    >>> sorted(loss(torch.randn(4, 8), torch.randn(4, 8)))
    ['contrastive']
    """

    def __init__(self, temperature: float = 0.1, gather_with_grad: bool = True, rank: int | None = None,
                 world_size: int | None = None, name: str = "contrastive"):
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if world_size is not None and world_size < 1:
            raise ValueError(f"world_size must be >= 1, got {world_size}")
        self.temperature = float(temperature)
        self.gather_with_grad = bool(gather_with_grad)
        self.rank, self.world_size = rank, world_size
        self.name = name

    def gather(self, z0: Tensor, z1: Tensor) -> tuple[Tensor, Tensor]:
        """Both views of every rank in rank order (the local ones when not distributed)."""
        rank, world_size = _dist_info(self.rank, self.world_size)
        if world_size > 1:
            return gather_features(z0, z1, rank, world_size, self.gather_with_grad)
        return z0, z1

    def forward(self, z0: Tensor, z1: Tensor) -> dict[str, Tensor]:
        """``z0``, ``z1`` (N, E) the two views' projections (normalised here); returns ``{name: loss}``."""
        if z0.ndim != 2 or z0.shape != z1.shape:
            raise ValueError(f"z0 and z1 must both be (N, E), got {tuple(z0.shape)} and {tuple(z1.shape)}")
        if z0.shape[0] < 2:
            raise ValueError("NT-Xent needs at least 2 records per batch (negatives)")
        a, b = self.gather(z0, z1)
        return {self.name: nt_xent(a, b, self.temperature)}
