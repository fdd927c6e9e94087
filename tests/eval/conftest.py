"""Fixtures for the evaluation tests: a small synthetic store, a tiny reference F and a tiny
ECG-text checkpoint (transformer-tiny encoder, hashing text encoder)."""

from contextlib import contextmanager

import pytest
import torch

from ..synth_store import cached_synth


@contextmanager
def one_thread():
    """Small convolutions are ~40x slower with 2 intra-op threads on a busy 2-core machine; these
    tests run single-threaded and restore the setting afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


@pytest.fixture(autouse=True)
def _single_thread():
    with one_thread():
        yield


@pytest.fixture(scope="session")
def eval_store(tmp_path_factory):
    """96 synthetic records (100 Hz, 10 s), cached; 78 train / 9 val / 9 test."""
    return cached_synth(tmp_path_factory.mktemp("eval_synth"), 96, 1)


@pytest.fixture(scope="session")
def tiny_reference(eval_store, tmp_path_factory):
    """A resnet1d-tiny reference trained for 2 epochs, saved to a folder."""
    from ecgfoundry.eval.reference import ReferenceConfig, train_reference

    out = tmp_path_factory.mktemp("eval_ref") / "ref"
    with one_thread():
        return train_reference(eval_store, "synthetic", ReferenceConfig(encoder="resnet1d-tiny", epochs=2, seed=0),
                               out=out, device="cpu", progress=False)


@pytest.fixture(scope="session")
def tiny_run(eval_store, tmp_path_factory):
    """A 2-step SCAR run with the tiny presets."""
    from ecgfoundry.models.config import TextConfig
    from ecgfoundry.models.registry import get_model_config
    from ecgfoundry.train.config import TrainConfig
    from ecgfoundry.train.loop import pretrain

    out = tmp_path_factory.mktemp("eval_run") / "run"
    cfg = get_model_config("scar", encoder="transformer-tiny", text=TextConfig(kind="hashing"))
    with one_thread():
        pretrain(cfg, TrainConfig(steps=2, batch_size=8, log_every=1, checkpoint_every=2, warmup_steps=1),
                 eval_store, out, progress=False)
    return out
