"""Symmetric InfoNCE (CLIP) loss, global across DDP ranks.

Radford et al., "Learning Transferable Visual Models From Natural Language Supervision", ICML 2021;
the distributed gathering follows open_clip (Ilharco et al. 2021).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ClipLoss", "gather_features", "text_keys", "same_key_targets"]


def text_keys(texts, device: torch.device | str | None = None) -> Tensor:
    """A stable 63-bit key per text (blake2b of its UTF-8 bytes), the same in every process, so
    identical texts can be recognised across DDP ranks: (N,) int64."""
    import hashlib

    keys = [int.from_bytes(hashlib.blake2b(str(t).encode("utf-8"), digest_size=8).digest(), "little") >> 1
            for t in texts]
    return torch.tensor(keys, dtype=torch.int64, device=device)


def same_key_targets(row_keys: Tensor, col_keys: Tensor) -> Tensor:
    """Soft InfoNCE targets: row i spreads its mass uniformly over the columns whose key equals its
    own (identical texts are positives of each other, not negatives): (rows, cols) float, rows sum to 1."""
    same = (row_keys[:, None] == col_keys[None, :]).to(torch.float32)
    return same / same.sum(-1, keepdim=True).clamp(min=1.0)


def _gather_keys(keys: Tensor, world_size: int) -> Tensor:
    parts = [torch.empty_like(keys) for _ in range(world_size)]
    dist.all_gather(parts, keys.contiguous())
    return torch.cat(parts, dim=0)


def _dist_info(rank: int | None, world_size: int | None) -> tuple[int, int]:
    ready = dist.is_available() and dist.is_initialized()
    if world_size is None:
        world_size = dist.get_world_size() if ready else 1
    if rank is None:
        rank = dist.get_rank() if ready else 0
    return rank, world_size


class _AllGatherWithGrad(torch.autograd.Function):
    """all_gather whose backward returns to each rank the sum over ranks of the gradient of its rows
    (what ``torch.distributed.nn.functional.all_gather`` does; written here because that API is
    deprecated and gloo has no reduce_scatter)."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        world_size, rank = dist.get_world_size(), dist.get_rank()
        parts = [torch.empty_like(x) for _ in range(world_size)]
        dist.all_gather(parts, x.contiguous())
        ctx.rows = (rank * x.shape[0], (rank + 1) * x.shape[0])
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start, stop = ctx.rows
        return grad[start:stop]


def gather_features(a: Tensor, b: Tensor, rank: int, world_size: int,
                    gather_with_grad: bool = True) -> tuple[Tensor, Tensor]:
    """Concatenate ``a`` and ``b`` (N, E) of all ranks in rank order (every rank must pass N rows).

    ``gather_with_grad=True``: the backward pass sends every rank's gradient of each row back to
    the rank that owns it (summed over ranks, so DDP's averaging gives the gradient of the global
    loss); otherwise the other ranks' rows are constants and only the local rows carry gradient.
    """
    if gather_with_grad:
        return _AllGatherWithGrad.apply(a), _AllGatherWithGrad.apply(b)
    ga = [torch.zeros_like(a) for _ in range(world_size)]
    gb = [torch.zeros_like(b) for _ in range(world_size)]
    dist.all_gather(ga, a.detach().contiguous())
    dist.all_gather(gb, b.detach().contiguous())
    ga[rank], gb[rank] = a, b
    return torch.cat(ga, dim=0), torch.cat(gb, dim=0)


class ClipLoss(nn.Module):
    """Symmetric InfoNCE between paired embeddings, over the global batch under DDP.

    ``loss = (CE(s * A B^T, I) + CE(s * B A^T, I)) / 2`` with ``s`` the logit scale (1 / temperature)
    and the i-th rows of A and B a positive pair. Pass L2-normalised embeddings for CLIP's cosine
    similarities.

    Parameters
    ----------
    local_loss : bool
        Under DDP, compute only the local rows of the logits against all gathered columns
        (memory O(N_local x N_global)); the loss then averages over ranks to the global one.
        Otherwise every rank computes the full global loss.
    gather_with_grad : bool
        Gather with gradient (the right gradient for the global loss); without it, gathered rows
        of other ranks are constants.
    rank, world_size : int or None
        Taken from ``torch.distributed`` when None and a process group is initialised. Gathering
        happens only when ``world_size > 1``; every rank must then pass the same batch size.
    name : str
        Key of the loss in the returned dict.

    Examples
    --------
    >>> loss = ClipLoss()
    >>> a = F.normalize(torch.randn(4, 8), dim=-1); b = F.normalize(torch.randn(4, 8), dim=-1)
    >>> sorted(loss(a, b, torch.tensor(14.3)))
    ['contrastive']
    """

    def __init__(self, local_loss: bool = False, gather_with_grad: bool = True,
                 rank: int | None = None, world_size: int | None = None, name: str = "contrastive"):
        super().__init__()
        if not isinstance(local_loss, bool) or not isinstance(gather_with_grad, bool):
            raise TypeError("local_loss and gather_with_grad must be bool")
        if world_size is not None and world_size < 1:
            raise ValueError(f"world_size must be >= 1, got {world_size}")
        if rank is not None and (rank < 0 or (world_size is not None and rank >= world_size)):
            raise ValueError(f"rank must be in [0, world_size), got rank={rank}, world_size={world_size}")
        if not name:
            raise ValueError("name must be a non-empty string")
        self.local_loss = local_loss
        self.gather_with_grad = gather_with_grad
        self.rank = rank
        self.world_size = world_size
        self.name = name

    def logits(self, a: Tensor, b: Tensor, logit_scale: Tensor | float) -> tuple[Tensor, Tensor, Tensor]:
        """``(logits_a (rows x cols), logits_b, labels)`` for the local rows or the global batch."""
        rank, world_size = _dist_info(self.rank, self.world_size)
        n = a.shape[0]
        if world_size > 1:
            all_a, all_b = gather_features(a, b, rank, world_size, self.gather_with_grad)
            if self.local_loss:
                logits_a = logit_scale * a @ all_b.T
                logits_b = logit_scale * b @ all_a.T
                labels = torch.arange(n, device=a.device) + n * rank
            else:
                logits_a = logit_scale * all_a @ all_b.T
                logits_b = logits_a.T
                labels = torch.arange(all_a.shape[0], device=a.device)
        else:
            logits_a = logit_scale * a @ b.T
            logits_b = logits_a.T
            labels = torch.arange(n, device=a.device)
        return logits_a, logits_b, labels

    def forward(self, a: Tensor, b: Tensor, logit_scale: Tensor | float,
                keys: Tensor | None = None) -> dict[str, Tensor]:
        """``a``, ``b`` (N, E) paired embeddings; ``logit_scale`` scalar. Returns ``{name: loss}``.

        ``keys`` (N,) int64, optional: pairs whose keys are equal (e.g. :func:`text_keys` of identical
        report texts) count as positives of each other. The targets are then soft
        (:func:`same_key_targets`); with all keys distinct the loss is the one-hot InfoNCE exactly.
        One-hot targets treat a duplicate text as a negative, which puts a floor under the loss that
        no model can go below.
        """
        if a.ndim != 2 or a.shape != b.shape:
            raise ValueError(f"a and b must both be (N, E) of the same shape, got {tuple(a.shape)} and "
                             f"{tuple(b.shape)}")
        if keys is not None and tuple(keys.shape) != (a.shape[0],):
            raise ValueError(f"keys must be (N,) = ({a.shape[0]},), got {tuple(keys.shape)}")
        logits_a, logits_b, labels = self.logits(a, b, logit_scale)
        dtype = torch.promote_types(logits_a.dtype, torch.float32)  # half precision -> float32
        if keys is None:
            loss = (F.cross_entropy(logits_a.to(dtype), labels) + F.cross_entropy(logits_b.to(dtype), labels)) / 2
            return {self.name: loss}
        rank, world_size = _dist_info(self.rank, self.world_size)
        all_keys = _gather_keys(keys, world_size) if world_size > 1 else keys
        rows = keys if (world_size > 1 and self.local_loss) else all_keys
        target = same_key_targets(rows, all_keys).to(dtype)
        loss = (F.cross_entropy(logits_a.to(dtype), target) + F.cross_entropy(logits_b.to(dtype), target)) / 2
        return {self.name: loss}
