"""The loop talks to models through the Protocols of train/interface.py."""

import pytest
import torch

from ecgfoundry.models.config import TextConfig
from ecgfoundry.models.registry import create_model, get_model_config, list_models
from ecgfoundry.train.config import TrainConfig
from ecgfoundry.train.interface import PretrainModel, SelfSupervisedModel, training_hooks
from ecgfoundry.train.loop import pretrain

SSL = {"simclr", "moco", "byol", "clef"}


def _model(preset):
    over = {"encoder": "transformer-tiny"}
    if get_model_config(preset).objective not in SSL:
        over["text"] = TextConfig(kind="hashing")
    return create_model(get_model_config(preset, **over))


@pytest.mark.parametrize("preset", list_models())
def test_every_preset_meets_the_interface_and_declares_its_hooks(preset):
    model = _model(preset)
    objective = model.cfg.objective
    assert isinstance(model, PretrainModel)
    assert isinstance(model, SelfSupervisedModel) == (objective in SSL)
    hooks = training_hooks(model)
    if objective in SSL:
        assert (hooks.needs_text, hooks.own_augmentation) == (False, True)
        assert hooks.meta_columns == (tuple(model.cfg.ssl.clef_features) if objective == "clef" else ())
        assert hooks.after_step == model.after_step
    else:
        assert (hooks.needs_text, hooks.own_augmentation, hooks.meta_columns, hooks.after_step) == (True, False, (), None)
        assert model.has_adversary == (model.cfg.masker.mode == "adversarial")


def test_a_model_without_the_interface_is_refused_by_name():
    class Half(torch.nn.Module):
        has_adversary = False
        text_encoder = None

        def model_parameters(self):
            return []

    with pytest.raises(TypeError, match=r"Half cannot be pretrained: it lacks forward_losses, masker_parameters"):
        training_hooks(Half())


def test_the_loop_calls_after_step_once_per_model_step(tmp_path, synth_store, monkeypatch):
    from ecgfoundry.models.ssl_model import SSLModel

    calls = []
    real = SSLModel.after_step

    def spy(self, step=None, total_steps=None):
        calls.append((step, total_steps))
        return real(self, step, total_steps)

    monkeypatch.setattr(SSLModel, "after_step", spy)
    cfg = get_model_config("byol", encoder="transformer-tiny")
    pretrain(cfg, TrainConfig(steps=3, batch_size=8, warmup_steps=1), synth_store, tmp_path / "run", progress=False)
    assert calls == [(1, 3), (2, 3), (3, 3)]
