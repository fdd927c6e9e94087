"""Pretrain a preset at a fixed step budget, or reuse the finished run, and the weights it started from.

Experiments that compare presets at one budget (the known-answer checks, the masker schedule
search) train each configuration once into its own run folder and measure it, often again later:
:func:`pretrain_or_reuse` trains only when the folder holds no finished checkpoint, and
:func:`initial_model` rebuilds the untrained model a run starts from (same seed, same weights as
step 0), the "before" of a before/after comparison, without training anything.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from ecgfoundry.models.config import ModelConfig
from ecgfoundry.train.config import TrainConfig

__all__ = ["BudgetRun", "initial_model", "pretrain_or_reuse"]


@dataclass(frozen=True)
class BudgetRun:
    """A pretrained run, loaded.

    Attributes
    ----------
    model
        The model of the run's latest checkpoint, in eval mode.
    trained : bool
        True when this call trained it; False when a finished run was reused.
    wall_s : float
        Seconds this call spent training (about 0 when reused).
    samples_per_s : float or None
        The training loop's throughput; None when reused.
    """

    model: object
    trained: bool
    wall_s: float
    samples_per_s: float | None


def initial_model(model_cfg: ModelConfig, seed: int, text_encoder=None):
    """The model :func:`~ecgfoundry.train.loop.pretrain` starts from with ``TrainConfig(seed=seed)``:
    seeded the way the loop seeds itself, so its weights are those of step 0."""
    import torch

    from ecgfoundry.models.registry import create_model

    torch.manual_seed(seed)
    return create_model(model_cfg, text_encoder=text_encoder)


def pretrain_or_reuse(model_cfg: ModelConfig, train_cfg: TrainConfig, store, run: str | Path, text_encoder=None,
                      overwrite: bool = False) -> BudgetRun:
    """Pretrain into ``run`` unless it holds a finished run (``checkpoints/latest``); load the result.

    ``overwrite`` deletes ``run`` first, so the run is trained again. No progress bar.
    """
    from ecgfoundry.checkpoint import load_model
    from ecgfoundry.train.loop import pretrain

    run = Path(run)
    if run.exists() and overwrite:
        shutil.rmtree(run)
    t0 = time.perf_counter()
    speed = None
    trained = not (run / "checkpoints" / "latest").exists()
    if trained:
        speed = pretrain(model_cfg, train_cfg, store, run, progress=False, text_encoder=text_encoder)["samples_per_s"]
    wall = time.perf_counter() - t0
    model = load_model(run, text_encoder=text_encoder)
    model.eval()
    return BudgetRun(model, trained, wall, speed)
