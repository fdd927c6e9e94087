"""Distributed setup for ``torchrun``: gloo on CPU, nccl on GPU; gradient averaging across ranks."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group when launched by ``torchrun`` (``WORLD_SIZE`` > 1); no-op otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return DistInfo(rank, world, local)


def pick_device(spec: str, info_local_rank: int | None = None) -> torch.device:
    """``auto``: CUDA (the process's local rank under torchrun) when available, else CPU."""
    local = int(os.environ.get("LOCAL_RANK", "0")) if info_local_rank is None else info_local_rank
    if spec == "auto":
        if torch.cuda.is_available():
            torch.cuda.set_device(local % torch.cuda.device_count())
            return torch.device("cuda", local % torch.cuda.device_count())
        return torch.device("cpu")
    dev = torch.device(spec)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {spec!r} asked for but CUDA is not available")
        if dev.index is None:
            dev = torch.device("cuda", local % torch.cuda.device_count())
        torch.cuda.set_device(dev)
    return dev


def average_gradients(params: list[torch.nn.Parameter], info: DistInfo) -> None:
    """All-reduce (mean) the gradients of ``params`` across ranks in one flat buffer.

    Used instead of DDP's wrapper because SCAR alternates two optimisers over disjoint parameter
    sets; averaging is what DDP does, so gradients match a DDP run.
    """
    if not info.enabled:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= info.world_size
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset:offset + n].view_as(g))
        offset += n


def broadcast_module(module: torch.nn.Module, info: DistInfo) -> None:
    """Copy rank 0's parameters and buffers to every rank (start of training, BatchNorm stats)."""
    if not info.enabled:
        return
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0)


def all_ranks_agree(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True only if ``flag`` is True on every rank (e.g. "the loss is finite")."""
    if not info.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item() > 0)


def cleanup(info: DistInfo) -> None:
    """Tear the process group down once every rank is here (a rank that exits while another is still
    inside a gloo collective or its teardown can abort with "terminate called without an active
    exception")."""
    if info.enabled and dist.is_initialized():
        try:
            dist.barrier()
        except RuntimeError:  # a peer already failed: tear down anyway, the launcher reports the failure
            pass
        dist.destroy_process_group()
