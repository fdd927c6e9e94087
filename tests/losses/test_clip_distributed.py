"""2-process gloo: the gathered ClipLoss equals the single-process loss on the concatenated batch."""

from __future__ import annotations

import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from ecgfoundry.losses.clip import ClipLoss

WORLD = 2
N_LOCAL = 3


def _data():
    g = torch.Generator().manual_seed(7)
    return (torch.randn(WORLD * N_LOCAL, 6, generator=g, dtype=torch.float64),
            torch.randn(WORLD * N_LOCAL, 6, generator=g, dtype=torch.float64))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, port: int, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    try:
        a_all, b_all = _data()
        rows = slice(rank * N_LOCAL, (rank + 1) * N_LOCAL)
        results = {}
        for local_loss in (False, True):
            a = a_all[rows].clone().requires_grad_()
            b = b_all[rows].clone().requires_grad_()
            loss = ClipLoss(local_loss=local_loss)(F.normalize(a, dim=-1), F.normalize(b, dim=-1), 5.0)["contrastive"]
            loss.backward()
            results[local_loss] = (loss.detach(), a.grad, b.grad)
        torch.save(results, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_gathered_loss_equals_single_process(tmp_path):
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    a, b = _data()
    a.requires_grad_()
    b.requires_grad_()
    ref = ClipLoss(world_size=1)(F.normalize(a, dim=-1), F.normalize(b, dim=-1), 5.0)["contrastive"]
    ref.backward()
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    # global loss on every rank
    for r in range(WORLD):
        torch.testing.assert_close(ranks[r][False][0], ref.detach())
    # local loss averages to the global one
    torch.testing.assert_close(sum(ranks[r][True][0] for r in range(WORLD)) / WORLD, ref.detach())
    # gradients: all_gather's backward sums every rank's gradient, DDP then divides by world size
    for local_loss in (False, True):
        ga = torch.cat([ranks[r][local_loss][1] for r in range(WORLD)]) / WORLD
        gb = torch.cat([ranks[r][local_loss][2] for r in range(WORLD)]) / WORLD
        torch.testing.assert_close(ga, a.grad)
        torch.testing.assert_close(gb, b.grad)


_ = pytest
