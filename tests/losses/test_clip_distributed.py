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


KEYS = torch.tensor([9, 9, 1, 2, 9, 3])


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
            # same-text keys shared across ranks (rows 0, 1 and 4 are one text)
            a = a_all[rows].clone().requires_grad_()
            b = b_all[rows].clone().requires_grad_()
            loss = ClipLoss(local_loss=local_loss)(F.normalize(a, dim=-1), F.normalize(b, dim=-1), 5.0,
                                                   KEYS[rows])["contrastive"]
            loss.backward()
            results[("keys", local_loss)] = (loss.detach(), a.grad, b.grad)
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

    # same-text keys: gathered across ranks, the loss and gradients equal the single-process ones
    a2, b2 = _data()
    a2.requires_grad_()
    b2.requires_grad_()
    ref2 = ClipLoss(world_size=1)(F.normalize(a2, dim=-1), F.normalize(b2, dim=-1), 5.0, KEYS)["contrastive"]
    ref2.backward()
    torch.testing.assert_close(ranks[0][("keys", False)][0], ref2.detach())
    torch.testing.assert_close(sum(ranks[r][("keys", True)][0] for r in range(WORLD)) / WORLD, ref2.detach())
    for local_loss in (False, True):
        ga = torch.cat([ranks[r][("keys", local_loss)][1] for r in range(WORLD)]) / WORLD
        torch.testing.assert_close(ga, a2.grad)


_ = pytest
