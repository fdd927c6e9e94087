"""Pretrain at a budget or reuse the finished run; the untrained model a run starts from."""

import torch

from ecgfoundry.models.config import TextConfig
from ecgfoundry.models.registry import get_model_config
from ecgfoundry.train.budget import initial_model, pretrain_or_reuse
from ecgfoundry.train.config import TrainConfig


def _cfg():
    return get_model_config("scar", encoder="transformer-tiny", text=TextConfig(kind="hashing"))


def _train_cfg(seed=3):
    return TrainConfig(steps=2, batch_size=8, seed=seed, log_every=1, checkpoint_every=2, warmup_steps=1)


def _same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_initial_model_has_the_weights_pretrain_starts_from(synth_store, tmp_path, monkeypatch):
    import ecgfoundry.train.loop as loop

    start = {}
    create = loop.create_model

    def spy(*args, **kwargs):
        model = create(*args, **kwargs)
        start.update({k: v.detach().clone() for k, v in model.state_dict().items()})
        return model

    monkeypatch.setattr(loop, "create_model", spy)
    torch.set_num_threads(1)
    torch.manual_seed(123)                                      # whatever the global state, the seed decides
    init = initial_model(_cfg(), 3)
    loop.pretrain(_cfg(), _train_cfg(seed=3), synth_store, tmp_path / "run", progress=False)
    got = init.state_dict()
    assert got.keys() == start.keys() and all(torch.equal(got[k], start[k]) for k in got)
    assert not _same(init, initial_model(_cfg(), 4))


def test_pretrain_or_reuse_trains_once_then_reuses(synth_store, tmp_path):
    torch.set_num_threads(1)
    run = tmp_path / "run"
    first = pretrain_or_reuse(_cfg(), _train_cfg(), synth_store, run)
    assert first.trained and first.samples_per_s > 0 and first.wall_s > 0 and not first.model.training
    assert (run / "checkpoints" / "latest").exists()
    again = pretrain_or_reuse(_cfg(), _train_cfg(), synth_store, run)
    assert not again.trained and again.samples_per_s is None and _same(first.model, again.model)
    (run / "marker").write_text("from the first run")
    fresh = pretrain_or_reuse(_cfg(), _train_cfg(), synth_store, run, overwrite=True)
    assert fresh.trained and not (run / "marker").exists() and _same(first.model, fresh.model)  # same seed

