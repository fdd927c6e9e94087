import csv
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from ecgfoundry.checkpoint import load_model, resolve_checkpoint
from ecgfoundry.errors import TrainingDiverged
from ecgfoundry.models.config import ConfigError, TextConfig
from ecgfoundry.models.registry import get_model_config
from ecgfoundry.train.config import TrainConfig
from ecgfoundry.train.data import PretrainData
from ecgfoundry.train.loop import lr_factor, pretrain

TINY = dict(encoder="transformer-tiny", text=TextConfig(kind="hashing"))


def tiny(preset="scar"):
    return get_model_config(preset, **TINY)


def read_metrics(run):
    with open(run / "metrics.csv") as fh:
        return list(csv.DictReader(fh))


def test_lr_schedule_known_values():
    cfg = TrainConfig(steps=110, warmup_steps=10, lr=1.0, min_lr_ratio=0.0)
    assert lr_factor(0, cfg) == pytest.approx(0.1) and lr_factor(9, cfg) == pytest.approx(1.0)
    assert lr_factor(10, cfg) == pytest.approx(1.0)
    assert lr_factor(60, cfg) == pytest.approx(0.5)
    assert lr_factor(110, cfg) == pytest.approx(0.0, abs=1e-12)


def test_lr_schedule_cosine_floor_min_lr_ratio():
    """Cosine decay to ``min_lr_ratio``, not to 0: factor = r + (1 - r) (1 + cos(pi p)) / 2."""
    cfg = TrainConfig(steps=110, warmup_steps=10, min_lr_ratio=0.1)
    assert lr_factor(10, cfg) == pytest.approx(1.0)
    assert lr_factor(60, cfg) == pytest.approx(0.1 + 0.9 * 0.5)          # half-way: cos = 0
    assert lr_factor(35, cfg) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 4)))
    assert lr_factor(110, cfg) == pytest.approx(0.1) and lr_factor(500, cfg) == pytest.approx(0.1)
    no_warmup = TrainConfig(steps=10, warmup_steps=0, min_lr_ratio=0.3)
    assert lr_factor(0, no_warmup) == pytest.approx(1.0) and lr_factor(10, no_warmup) == pytest.approx(0.3)


def test_logged_learning_rate_follows_the_schedule_to_its_floor(tmp_path, synth_store):
    cfg = TrainConfig(steps=5, batch_size=8, log_every=1, warmup_steps=2, lr=2e-3, min_lr_ratio=0.25)
    pretrain(tiny("clip"), cfg, synth_store, tmp_path / "run", progress=False)
    lrs = [float(r["lr"]) for r in read_metrics(tmp_path / "run")]
    # after optimiser step s (1-based) the scheduler is at s: warm-up (s + 1) / 2 over 2 steps, then
    # cosine from 1 to 0.25 over the other 3
    want = [2e-3 * min(1.0, (s + 1) / 2) if s < 2 else
            2e-3 * (0.25 + 0.75 * 0.5 * (1 + math.cos(math.pi * (s - 2) / 3))) for s in (1, 2, 3, 4, 5)]
    np.testing.assert_allclose(lrs, want, rtol=1e-5)
    assert lrs[-1] == pytest.approx(2e-3 * 0.25, rel=1e-5)


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="batch_size"):
        TrainConfig(batch_size=0)
    with pytest.raises(ConfigError, match="span_max"):
        TrainConfig(span_min=0.2, span_max=0.1)
    with pytest.raises(ConfigError, match="bogus"):
        TrainConfig.from_dict({"bogus": 1})


def test_data_sharding_and_resume_order(synth_store):
    data = PretrainData(synth_store, "train", seed=3)
    a = [b.index.tolist() for _, b in zip(range(4), data.batches(8, rank=0, world_size=2))]
    b = [b.index.tolist() for _, b in zip(range(4), data.batches(8, rank=1, world_size=2))]
    assert not set(sum(a[:2], [])) & set(sum(b[:2], []))  # ranks never share records in an epoch
    resumed = [x.index.tolist() for _, x in zip(range(2), data.batches(8, rank=0, world_size=2, start_batch=2))]
    assert resumed == a[2:]


@pytest.mark.parametrize("preset", ["scar", "clip", "merl", "scar-randmask-mean"])
def test_pretrain_checkpoint_resume(tmp_path, synth_store, preset):
    cfg = TrainConfig(steps=4, batch_size=8, log_every=2, checkpoint_every=2, warmup_steps=1)
    summary = pretrain(tiny(preset), cfg, synth_store, tmp_path / "run", progress=False)
    assert summary["steps"] == 4 and math.isfinite(summary["final"]["loss"])
    rows = read_metrics(tmp_path / "run")
    assert [int(r["step"]) for r in rows] == [2, 4]
    folder = resolve_checkpoint(tmp_path / "run")
    assert folder.name == "step_0000004"
    model = load_model(tmp_path / "run").eval()
    b = synth_store.batch([0, 1, 2])
    z = model.encode_ecg(torch.from_numpy(b.signal), torch.from_numpy(b.observed))
    assert torch.allclose(z.norm(dim=-1), torch.ones(3), atol=1e-5)
    with pytest.raises(FileExistsError):
        pretrain(tiny(preset), cfg, synth_store, tmp_path / "run", progress=False)
    summary = pretrain(tiny(preset), cfg.replace(steps=6), synth_store, tmp_path / "run", resume=True, progress=False)
    assert summary["steps"] == 6
    assert [int(r["step"]) for r in read_metrics(tmp_path / "run")] == [2, 4, 6]


def test_resume_equals_uninterrupted(tmp_path, synth_store):
    cfg = TrainConfig(steps=4, batch_size=8, log_every=1, checkpoint_every=2, warmup_steps=1, seed=5)
    pretrain(tiny("clip"), cfg, synth_store, tmp_path / "a", progress=False)
    pretrain(tiny("clip"), cfg.replace(steps=2), synth_store, tmp_path / "b", progress=False)
    pretrain(tiny("clip"), cfg, synth_store, tmp_path / "b", resume=True, progress=False)
    la = [float(r["loss"]) for r in read_metrics(tmp_path / "a")]
    lb = [float(r["loss"]) for r in read_metrics(tmp_path / "b")]
    np.testing.assert_allclose(lb, la, rtol=1e-4)


def test_one_pass_min_max_trains_both_sides_from_one_batch_per_step(tmp_path, synth_store):
    """minmax=one_pass: one batch per step (the alternating schedule reads two), the masker's loss comes
    from the same pass and is logged every step, and both sides' weights move (the masker steps every
    second step with model_steps_per_masker=2)."""
    from ecgfoundry.models.registry import create_model

    cfg = TrainConfig(steps=4, batch_size=8, log_every=1, warmup_steps=1, model_steps_per_masker=2, seed=3,
                      minmax="one_pass")
    torch.manual_seed(cfg.seed)
    init = create_model(tiny("scar"))
    pretrain(tiny("scar"), cfg, synth_store, tmp_path / "run", progress=False)
    rows = read_metrics(tmp_path / "run")
    assert [math.isfinite(float(r["masker_loss"])) for r in rows] == [True, True, True, True]
    assert float(rows[-1]["epoch_frac"]) * len(PretrainData(synth_store, "train", 3)) == pytest.approx(4 * 8, rel=1e-3)
    trained = load_model(tmp_path / "run")
    for side in ("masker_parameters", "model_parameters"):
        before, after = getattr(init, side)(), getattr(trained, side)()
        moved = sum(float((a - b).detach().abs().max()) > 1e-6 for a, b in zip(after, before))
        assert moved >= len(before) // 2, (side, moved, len(before))
    with pytest.raises(ConfigError, match="masker_steps"):
        TrainConfig(minmax="one_pass", masker_steps=2)
    with pytest.raises(ConfigError, match="minmax"):
        TrainConfig(minmax="both")


def test_stop_at_keeps_the_schedule_and_resume_finishes_the_same_run(tmp_path, synth_store):
    cfg = TrainConfig(steps=6, batch_size=8, log_every=1, checkpoint_every=4, warmup_steps=1, seed=3)
    pretrain(tiny("clip"), cfg, synth_store, tmp_path / "a", progress=False)
    first = pretrain(tiny("clip"), cfg, synth_store, tmp_path / "b", progress=False, stop_at=3)
    assert first["steps"] == 3 and first["stopped_early"]
    assert first["checkpoint"].endswith("step_0000003")  # a checkpoint at the stop, off the every-4 grid
    rows_b = read_metrics(tmp_path / "b")
    assert [int(r["step"]) for r in rows_b] == [1, 2, 3]
    rows_a = read_metrics(tmp_path / "a")
    # the learning rate of the first three steps is that of the 6-step schedule, not a 3-step one
    np.testing.assert_allclose([float(r["lr"]) for r in rows_b], [float(r["lr"]) for r in rows_a[:3]], rtol=1e-9)
    assert float(rows_b[-1]["lr"]) > cfg.lr * cfg.min_lr_ratio * 1.5
    done = pretrain(tiny("clip"), cfg, synth_store, tmp_path / "b", resume=True, progress=False)
    assert done["steps"] == 6 and not done["stopped_early"]
    np.testing.assert_allclose([float(r["loss"]) for r in read_metrics(tmp_path / "b")],
                               [float(r["loss"]) for r in rows_a], rtol=1e-4)
    with pytest.raises(ValueError, match="stop_at"):
        pretrain(tiny("clip"), cfg, synth_store, tmp_path / "c", progress=False, stop_at=0)


def test_nan_loss_stops_and_keeps_last_good(tmp_path, synth_store, monkeypatch):
    from ecgfoundry.models.ecg_text import ECGTextModel

    real = ECGTextModel.forward_losses
    calls = {"n": 0}

    def poisoned(self, *a, **k):
        out = real(self, *a, **k)
        calls["n"] += 1
        if calls["n"] > 3:
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(ECGTextModel, "forward_losses", poisoned)
    cfg = TrainConfig(steps=10, batch_size=8, checkpoint_every=2, log_every=1, warmup_steps=1)
    with pytest.raises(TrainingDiverged, match=r"non-finite model loss at step 4.*step_0000002"):
        pretrain(tiny("clip"), cfg, synth_store, tmp_path / "run", progress=False)
    assert resolve_checkpoint(tmp_path / "run").name == "step_0000002"
    load_model(tmp_path / "run")  # the last good checkpoint is intact


def test_torchrun_two_processes(tmp_path, synth_store):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29531",
           "-m", "ecgfoundry", "pretrain", "--preset", "scar", "--encoder", "transformer-tiny",
           "--text-kind", "hashing", "--data", str(synth_store.path), "--out", str(tmp_path / "ddp"),
           "--steps", "4", "--batch-size", "8", "--log-every", "2", "--checkpoint-every", "4", "--no-progress"]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "2 processes" in res.stdout
    rows = read_metrics(tmp_path / "ddp")
    assert [int(r["step"]) for r in rows] == [2, 4] and all(math.isfinite(float(r["loss"])) for r in rows)
    load_model(tmp_path / "ddp")


def test_both_sides_of_the_min_max_game_learn_on_their_schedule(tmp_path, synth_store):
    """SCAR: the masker takes its own optimiser steps (on steps 1, 3, ... with model_steps_per_masker=2,
    as the logged masker loss shows) and its weights move; the model side moves too. A masker whose
    optimiser never steps would leave SCAR's adversary at its random initialisation."""
    from ecgfoundry.models.registry import create_model

    cfg = TrainConfig(steps=4, batch_size=8, log_every=1, warmup_steps=1, model_steps_per_masker=2, seed=3)
    torch.manual_seed(cfg.seed)  # the weights pretrain() starts from
    init = create_model(tiny("scar"))
    pretrain(tiny("scar"), cfg, synth_store, tmp_path / "run", progress=False)
    trained = load_model(tmp_path / "run")
    masker_loss = [float(r["masker_loss"]) for r in read_metrics(tmp_path / "run")]
    assert [math.isfinite(v) for v in masker_loss] == [True, False, True, False]
    for side in ("masker_parameters", "model_parameters"):
        before, after = getattr(init, side)(), getattr(trained, side)()
        assert len(before) == len(after) > 0
        moved = sum(float((a - b).detach().abs().max()) > 1e-6 for a, b in zip(after, before))
        assert moved >= len(before) // 2, (side, moved, len(before))
