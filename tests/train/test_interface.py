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


@pytest.mark.parametrize("preset, augmented", [("clip", True), ("simclr", False)])
def test_the_loop_augments_exactly_the_models_that_do_not_draw_their_own_views(tmp_path, synth_store, monkeypatch,
                                                                               preset, augmented):
    """ECG-text models get the loop's missingness augmentation (leads dropped, one zeroed span per lead);
    a SelfSupervisedModel (own_augmentation) gets the stored records as they are."""
    from ecgfoundry.models.ecg_text import ECGTextModel
    from ecgfoundry.models.ssl_model import SSLModel

    seen = []
    cls = SSLModel if preset == "simclr" else ECGTextModel
    real = cls.forward_losses

    def spy(self, signal, observed, *a, **k):
        seen.append(observed.detach().clone())
        return real(self, signal, observed, *a, **k)

    monkeypatch.setattr(cls, "forward_losses", spy)
    cfg = get_model_config(preset, encoder="transformer-tiny",
                           **({} if preset == "simclr" else {"text": TextConfig(kind="hashing")}))
    pretrain(cfg, TrainConfig(steps=2, batch_size=8, warmup_steps=1, lead_drop_p=0.5), synth_store, tmp_path / "run",
             progress=False)
    observed = torch.cat(seen)
    stored_fraction = float(synth_store.batch(list(range(16))).observed.mean())   # the synthetic records: 1.0
    lead_dropped = ~observed.any(-1)                                                # (N, 12) whole leads gone
    if augmented:  # half the leads dropped on average, and a 5-10 % span zeroed in every kept lead
        missing = 1 - observed.float().mean(-1)                                    # (N, 12) per lead
        assert 0.3 < float(lead_dropped.float().mean()) < 0.7
        assert ((missing[~lead_dropped] >= 0.05 - 1e-3) & (missing[~lead_dropped] <= 0.10 + 1e-3)).all()
    else:
        assert not lead_dropped.any() and float(observed.float().mean()) == stored_fraction == 1.0
