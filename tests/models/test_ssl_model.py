"""SSLModel: every objective on both tiny encoders, momentum/queue updates, checkpoint round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecgfoundry.checkpoint import load_model, save_checkpoint
from ecgfoundry.models.config import ConfigError, ModelConfig, SelectorConfig
from ecgfoundry.models.registry import create_model, get_model_config, list_models
from ecgfoundry.models.ssl_model import SSLModel, clinical_features

OBJECTIVES = ["simclr", "moco", "byol", "clef"]
META = {"age": np.array([50.0, 61.0, np.nan, 72.0, 30.0, 45.0]), "sex": np.array(["M", "F", "F", "", "M", "F"],
                                                                                  dtype=object)}


def _batch(n=6, t=1000, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 12, t, generator=g)
    m = torch.ones_like(x, dtype=torch.bool)
    m[1, 3:7] = False
    m[2, :, 100:200] = False
    return x * m, m


def _model(objective, encoder="transformer-tiny", **kw):
    torch.manual_seed(0)
    return create_model(objective, encoder=encoder, embed_dim=16,
                        ssl={"projector_hidden": 32, "predictor_hidden": 32, "queue_size": 20, **kw})


def test_presets_registered_and_kinds():
    assert set(OBJECTIVES) <= set(list_models("ssl"))
    assert not set(OBJECTIVES) & set(list_models("ecg-text"))
    assert get_model_config("moco").ssl.momentum_schedule == "constant"
    assert get_model_config("byol").ssl.momentum_schedule == "cosine"
    with pytest.raises(ConfigError, match="^selector.enabled"):
        ModelConfig(objective="simclr", selector=SelectorConfig(enabled=True))
    with pytest.raises(ConfigError, match="^ssl.clef_scales"):
        get_model_config("clef", ssl={"clef_scales": [1.0]})


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("encoder", ["transformer-tiny", "resnet1d-tiny"])
def test_step_finite_grads_on_online_network_only(objective, encoder):
    model = _model(objective, encoder).train()
    assert isinstance(model, SSLModel) and not model.has_adversary and model.masker_parameters() == []
    x, m = _batch()
    losses = model.forward_losses(x, m, None, generator=torch.Generator().manual_seed(0), meta=META)
    assert "loss" in losses and all(torch.isfinite(v) for v in losses.values())
    losses["loss"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())
    ids = {id(p) for p in model.model_parameters()}
    if model.target_encoder is not None:
        targets = list(model.target_encoder.parameters()) + list(model.target_projector.parameters())
        assert all(p.grad is None and id(p) not in ids for p in targets)
    z = model.eval().encode_ecg(x, m)
    assert z.shape == (6, model.encoder.dim)
    torch.testing.assert_close(z.norm(dim=-1), torch.ones(6))
    with pytest.raises(ValueError, match="no adversarial masker"):
        model.forward_losses(x, m, None, "masker")


def test_views_are_seeded():
    model = _model("simclr").train()
    x, m = _batch()
    a, b, c = (model.forward_losses(x, m, generator=torch.Generator().manual_seed(s))["loss"].detach()
               for s in (3, 3, 4))
    assert float(a) == float(b) != float(c)


def test_moco_one_enqueue_per_step_with_the_current_keys():
    model = _model("moco").train()
    x, m = _batch()
    assert int(model.queue.n_enqueued) == 0
    before = model.queue.keys.clone()
    for step in range(1, 4):
        model.forward_losses(x, m, generator=torch.Generator().manual_seed(step))
        model.forward_losses(x, m, generator=torch.Generator().manual_seed(step))  # a repeated forward
        model.after_step(step, 10)
        assert int(model.queue.n_enqueued) == step and model._pending_keys is None
        model.after_step(step, 10)                                                # nothing pending: no enqueue
        assert int(model.queue.n_enqueued) == step
    assert int(model.queue.ptr) == (3 * 6) % 20                                   # wrapped around
    assert not torch.equal(before, model.queue.keys)
    model.eval()
    model.forward_losses(x, m, generator=torch.Generator().manual_seed(0))
    assert model._pending_keys is None                                            # evaluation never enqueues


def test_byol_ema_update_and_schedule():
    model = _model("byol").train()
    x, m = _batch()
    loss = model.forward_losses(x, m, generator=torch.Generator().manual_seed(0))["loss"]
    loss.backward()
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.add_(0.1)
    online = [p.detach().clone() for p in model.encoder.parameters()]
    target = [p.detach().clone() for p in model.target_encoder.parameters()]
    model.after_step(5, 10)
    mom = model.last_momentum
    assert mom == pytest.approx(1 - (1 - 0.99) * 0.5)
    for o, t0, t in zip(online, target, model.target_encoder.parameters()):
        torch.testing.assert_close(t, mom * t0 + (1 - mom) * o)


def test_clef_reads_metadata_and_missing_metadata_is_ntxent():
    model = _model("clef").train()
    x, m = _batch()
    with_meta = model.forward_losses(x, m, generator=torch.Generator().manual_seed(0), meta=META)
    # a pair is known when the two records share at least one known feature: every ordered pair of the
    # 6 records except (2, 3) and (3, 2) (record 2 has only sex, record 3 only age): 28 of 30
    assert float(with_meta["known_pairs"]) == pytest.approx(28 / 30) and float(with_meta["clinical"].detach()) > 0
    no_meta = model.forward_losses(x, m, generator=torch.Generator().manual_seed(0))
    assert float(no_meta["known_pairs"]) == 0.0 and float(no_meta["clinical"].detach()) == 0.0
    torch.manual_seed(0)
    simclr = create_model("simclr", encoder="transformer-tiny", embed_dim=16,
                          ssl={"projector_hidden": 32, "predictor_hidden": 32, "queue_size": 20}).train()
    ref = simclr.forward_losses(x, m, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(no_meta["loss"], ref["loss"])   # same weights, same views: identical


def test_clinical_features_encoding():
    x, absent = clinical_features(META, ["age", "sex", "bmi"], [False, True, False], 6)
    assert absent == ["bmi"] and np.isnan(x[:, 2]).all()
    assert np.isnan(x[2, 0]) and x[0, 0] == 50.0 and np.isnan(x[3, 1])
    assert x[0, 1] == x[4, 1] != x[1, 1]
    with pytest.raises(ValueError, match="'sex' is numeric"):
        clinical_features(META, ["sex"], [False], 6)


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_checkpoint_round_trip(tmp_path, objective):
    model = _model(objective).train()
    x, m = _batch()
    model.forward_losses(x, m, generator=torch.Generator().manual_seed(0), meta=META)
    model.after_step(1, 10)
    save_checkpoint(tmp_path / "ck", model, step=1)
    back = load_model(tmp_path / "ck")
    assert isinstance(back, SSLModel) and back.cfg == model.cfg
    for (k, a), (k2, b) in zip(model.state_dict().items(), back.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    model.eval(), back.eval()
    torch.testing.assert_close(back.encode_ecg(x, m), model.encode_ecg(x, m))
