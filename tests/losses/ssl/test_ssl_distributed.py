"""2-process gloo: NT-Xent and CLEF gathered across ranks equal the single-process loss on the
concatenated batch (loss and gradients); MoCo's gathered keys are every rank's keys in rank order."""

from __future__ import annotations

import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ecgfoundry.losses.ssl.clef import CLEFLoss
from ecgfoundry.losses.ssl.moco import gather_keys
from ecgfoundry.losses.ssl.ntxent import NTXentLoss

WORLD, N_LOCAL = 2, 3
CAT, SCALES = [False, True], [20.0, 1.0]


def _data():
    g = torch.Generator().manual_seed(11)
    z0 = torch.randn(WORLD * N_LOCAL, 5, generator=g, dtype=torch.float64)
    z1 = torch.randn(WORLD * N_LOCAL, 5, generator=g, dtype=torch.float64)
    feats = torch.tensor([[40.0, 0.0], [55.0, 1.0], [float("nan"), 1.0], [70.0, float("nan")],
                          [40.0, 0.0], [float("nan"), float("nan")]], dtype=torch.float64)
    return z0, z1, feats


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _losses():
    return {"ntxent": lambda a, b, f: NTXentLoss(0.3)(a, b)["contrastive"],
            "clef": lambda a, b, f: CLEFLoss(0.3, 1.0, CAT, SCALES)(a, b, f)["clef"]}


def _worker(rank: int, port: int, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    try:
        z0_all, z1_all, f_all = _data()
        rows = slice(rank * N_LOCAL, (rank + 1) * N_LOCAL)
        results = {}
        for name, fn in _losses().items():
            a = z0_all[rows].clone().requires_grad_()
            b = z1_all[rows].clone().requires_grad_()
            loss = fn(a, b, f_all[rows])
            loss.backward()
            results[name] = (loss.detach(), a.grad, b.grad)
        results["keys"] = gather_keys(z0_all[rows] * (rank + 1))
        torch.save(results, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_gathered_losses_equal_single_process(tmp_path):
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    z0, z1, feats = _data()
    for name, fn in _losses().items():
        a, b = z0.clone().requires_grad_(), z1.clone().requires_grad_()
        ref = fn(a, b, feats)
        ref.backward()
        for r in range(WORLD):
            torch.testing.assert_close(ranks[r][name][0], ref.detach())
        # all_gather's backward sums every rank's gradient; the trainer then averages over ranks
        ga = torch.cat([ranks[r][name][1] for r in range(WORLD)]) / WORLD
        gb = torch.cat([ranks[r][name][2] for r in range(WORLD)]) / WORLD
        torch.testing.assert_close(ga, a.grad)
        torch.testing.assert_close(gb, b.grad)
    expected = torch.cat([z0[r * N_LOCAL:(r + 1) * N_LOCAL] * (r + 1) for r in range(WORLD)])
    for r in range(WORLD):
        torch.testing.assert_close(ranks[r]["keys"], expected)
