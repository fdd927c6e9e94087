"""ECG-only SSL objectives through the pretraining loop: checkpoints, resume, MoCo's one enqueue per
step, CLEF's metadata, ``--objective`` on the command line, and torchrun (MoCo's gathered keys)."""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys

import pytest
import torch

from ecgfoundry.checkpoint import load_model
from ecgfoundry.cli.main import main
from ecgfoundry.models.registry import get_model_config
from ecgfoundry.models.ssl_model import SSLModel
from ecgfoundry.train.config import TrainConfig
from ecgfoundry.train.data import PretrainData
from ecgfoundry.train.loop import pretrain

SSL_TINY = {"encoder": "transformer-tiny", "embed_dim": 16,
            "ssl": {"projector_hidden": 32, "predictor_hidden": 32, "queue_size": 24}}


def _rows(run):
    with open(run / "metrics.csv") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("objective", ["simclr", "moco", "byol", "clef"])
def test_pretrain_checkpoint_resume(tmp_path, synth_store, objective):
    cfg = TrainConfig(steps=3, batch_size=8, log_every=1, checkpoint_every=3, warmup_steps=1)
    summary = pretrain(get_model_config(objective, **SSL_TINY), cfg, synth_store, tmp_path / "run", progress=False)
    assert summary["steps"] == 3 and math.isfinite(summary["final"]["loss"])
    model = load_model(tmp_path / "run")
    assert isinstance(model, SSLModel) and model.cfg.objective == objective
    rows = _rows(tmp_path / "run")
    assert [int(r["step"]) for r in rows] == [1, 2, 3] and all(math.isfinite(float(r["loss"])) for r in rows)
    if objective == "moco":
        assert int(model.queue.n_enqueued) == 3 and int(model.queue.ptr) == (3 * 8) % 24
    if objective == "clef":  # the synthetic data has age and sex for every record: all pairs known
        assert float(summary["final"]["known_pairs"]) == 1.0 and rows[0]["clinical"]
    summary = pretrain(get_model_config(objective, **SSL_TINY), cfg.replace(steps=5), synth_store, tmp_path / "run",
                       resume=True, progress=False)
    assert summary["steps"] == 5
    if objective == "moco":
        assert int(load_model(tmp_path / "run").queue.n_enqueued) == 5


def test_resume_equals_uninterrupted_moco(tmp_path, synth_store):
    cfg = TrainConfig(steps=4, batch_size=8, log_every=1, checkpoint_every=2, warmup_steps=1, seed=3)
    model_cfg = get_model_config("moco", **SSL_TINY)
    pretrain(model_cfg, cfg, synth_store, tmp_path / "a", progress=False)
    pretrain(model_cfg, cfg.replace(steps=2), synth_store, tmp_path / "b", progress=False)
    pretrain(model_cfg, cfg, synth_store, tmp_path / "b", resume=True, progress=False)
    la = [float(r["loss"]) for r in _rows(tmp_path / "a")]
    lb = [float(r["loss"]) for r in _rows(tmp_path / "b")]
    assert la == pytest.approx(lb, rel=1e-4)
    torch.testing.assert_close(load_model(tmp_path / "a").queue.keys, load_model(tmp_path / "b").queue.keys)


def test_data_keeps_records_without_text_and_reads_meta(synth_store):
    data = PretrainData(synth_store, "train", require_text=False, meta_columns=("age", "sex", "no_such_column"))
    assert len(data) == len(synth_store.split_indices("train"))
    assert any("no_such_column" in n for n in data.notes)
    b = next(data.batches(4))
    assert set(b.meta) == {"age", "sex"} and len(b.meta["age"]) == 4


def test_cli_objective(tmp_path, synth_store, capsys):
    code = main(["pretrain", "--objective", "simclr", "--encoder", "transformer-tiny", "--data", str(synth_store.path),
                 "--out", str(tmp_path / "cli"), "--steps", "2", "--batch-size", "8", "--no-progress"])
    assert code == 0 and "pretrained simclr for 2 steps" in capsys.readouterr().out
    assert load_model(tmp_path / "cli").cfg.objective == "simclr"


def test_torchrun_two_processes_moco(tmp_path, synth_store):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cfg = tmp_path / "moco.json"
    cfg.write_text('{"model": {"objective": "moco", "encoder": "transformer-tiny", "embed_dim": 16, '
                   '"ssl": {"projector_hidden": 32, "queue_size": 40, "momentum_schedule": "constant"}}}')
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29537",
           "-m", "ecgfoundry", "pretrain", "--config", str(cfg), "--data", str(synth_store.path),
           "--out", str(tmp_path / "ddp"), "--steps", "3", "--batch-size", "8", "--log-every", "1",
           "--checkpoint-every", "3", "--no-progress"]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "2 processes" in res.stdout
    model = load_model(tmp_path / "ddp")
    # one enqueue per step, each of the keys of both ranks (2 x 8)
    assert int(model.queue.n_enqueued) == 3 and int(model.queue.ptr) == (3 * 16) % 40
