"""The alternating model / masker steps run under DDP (gloo, 2 CPU processes) with
``find_unused_parameters=True``, as documented in ecgfoundry.models.ecg_text."""

from __future__ import annotations

import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

WORLD = 2


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, port: int, out_dir: str, preset: str) -> None:
    from torch.nn.parallel import DistributedDataParallel as DDP

    from ecgfoundry.models.registry import create_model

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    try:
        torch.manual_seed(0)
        model = create_model(preset, encoder="transformer-tiny", text={"kind": "hashing", "hashing_dim": 16},
                             embed_dim=16)
        ddp = DDP(model, find_unused_parameters=True)
        opt_model = torch.optim.SGD(model.model_parameters(), lr=0.1)
        opt_masker = torch.optim.SGD(model.masker_parameters(), lr=0.1)
        g = torch.Generator().manual_seed(100 + rank)   # each rank its own data
        texts = [f"report {rank} {i}" for i in range(4)]
        for step in range(3):
            x = torch.randn(4, 12, 500, generator=g)
            m = torch.ones_like(x, dtype=torch.bool)
            out = ddp(x, m, texts, step_kind="model", generator=g)
            opt_model.zero_grad(set_to_none=True)
            out["loss"].backward()
            opt_model.step()
            out = ddp(x, m, texts, step_kind="masker", generator=g)
            opt_model.zero_grad(set_to_none=True)
            opt_masker.zero_grad(set_to_none=True)
            out["loss"].backward()
            # DDP may fill the unused model-side gradients with zeros; never with values
            assert all(p.grad is None or not p.grad.any() for p in model.model_parameters())
            assert all(p.grad is not None for p in model.masker_parameters())
            opt_masker.step()
        flat = torch.cat([p.detach().flatten() for p in model.parameters()])
        torch.save(flat, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("preset", ["scar", "scar-leadmask"])
def test_alternating_steps_under_ddp(tmp_path, preset):
    mp.spawn(_worker, args=(_free_port(), str(tmp_path), preset), nprocs=WORLD, join=True)
    a, b = (torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD))
    torch.testing.assert_close(a, b)  # replicas stay in sync
