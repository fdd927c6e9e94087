"""ECGTextModel: every preset, both step kinds, gradient separation, inference without the masker."""

from __future__ import annotations

import pytest
import torch

from ecgfoundry.models.registry import create_model, list_models

TEXTS = ["sinus rhythm", "atrial fibrillation", "left bundle branch block", "normal ecg",
         "sinus tachycardia", "st elevation"]
TINY = {"encoder": "transformer-tiny", "text": {"kind": "hashing", "hashing_dim": 16}, "embed_dim": 16}


def _batch(n=6, t=500, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 12, t, generator=g)
    m = torch.ones_like(x, dtype=torch.bool)
    m[1, 3:7] = False                  # missing leads
    m[2, :, 100:200] = False           # missing time
    m[0] = False                       # a record with nothing observed
    return x * m, m


def _pairs(names):
    """(preset, encoder) pairs; lead-level maskers need the lead x time token encoder."""
    from ecgfoundry.models.registry import get_model_config

    return [(n, e) for n in names for e in ("transformer-tiny", "resnet1d-tiny")
            if e == "transformer-tiny" or get_model_config(n).masker.unit == "token"]


def _grads(params):
    return [p.grad for p in params]


def _model(name, **kw):
    torch.manual_seed(0)
    return create_model(name, **{**TINY, **kw})


@pytest.mark.parametrize("name,encoder", _pairs(list_models("ecg-text")))
def test_model_step_finite_and_grads_only_on_model_side(name, encoder):
    model = _model(name, encoder=encoder).train()
    x, m = _batch()
    losses = model.forward_losses(x, m, TEXTS, "model", generator=torch.Generator().manual_seed(0))
    assert "loss" in losses and "align" in losses
    assert all(torch.isfinite(v) for v in losses.values())
    losses["loss"].backward()
    model_grads = _grads(model.model_parameters())
    assert all(g is None or torch.isfinite(g).all() for g in model_grads)
    assert model.logit_scale.grad is not None
    assert any(g is not None and g.abs().sum() > 0 for g in _grads(model.encoder.parameters()))
    assert all(g is None for g in _grads(model.masker_parameters()))
    if model.cfg.objective == "merl":
        assert "unimodal" in losses
    if model.cfg.objective == "scar":
        assert {"budget", "mask_rate"} <= set(losses)
        assert ("consistency" in losses) == model.cfg.use_consistency


@pytest.mark.parametrize("name,encoder", _pairs([n for n in list_models() if "advmask" in n or n.startswith("scar")
                                                  and "randmask" not in n]))
def test_masker_step_grads_only_on_masker(name, encoder):
    model = _model(name, encoder=encoder).train()
    assert model.has_adversary
    x, m = _batch()
    losses = model.forward_losses(x, m, TEXTS, "masker", generator=torch.Generator().manual_seed(0))
    assert all(torch.isfinite(v) for v in losses.values())
    if model.cfg.masker.estimator == "gumbel":  # the score estimator's loss: tests/models/test_masker_score.py
        target = losses["align"] + model.cfg.lambda_cons * losses.get("consistency", torch.tensor(0.0))
        torch.testing.assert_close(losses["loss"], -target + model.cfg.lambda_mask * losses["budget"])
    losses["loss"].backward()
    assert all(g is None for g in _grads(model.model_parameters()))
    masker_grads = _grads(model.masker_parameters())
    assert all(g is not None and torch.isfinite(g).all() for g in masker_grads)
    assert sum(g.abs().sum() for g in masker_grads) > 0
    # model-side parameters are trainable again afterwards
    assert all(p.requires_grad for p in model.model_parameters())
    assert len(model.model_parameters()) > 0


def _step_grads(model, kind, x, m):
    torch.manual_seed(1)  # dropout draws: the same in every step kind
    model.zero_grad(set_to_none=True)
    losses = model.forward_losses(x, m, TEXTS, kind, generator=torch.Generator().manual_seed(0))
    losses["loss"].backward()
    grads = {id(p): (None if p.grad is None else p.grad.clone()) for p in model.parameters()}
    return losses, grads


@pytest.mark.parametrize("name,encoder", [("scar", "transformer-tiny"), ("scar", "resnet1d-tiny"),
                                          ("scar-advmask-sel", "transformer-tiny")])
def test_joint_step_gives_each_side_the_gradient_of_its_own_step(name, encoder):
    """The one-pass min-max step: one backward pass leaves on the model side exactly the model step's
    gradient, and on the masker exactly the masker step's (the gradient of the negated adversary target
    plus the budget), on the same batch and noise."""
    model = _model(name, encoder=encoder).train()
    x, m = _batch()
    joint, g_joint = _step_grads(model, "joint", x, m)
    model_step, g_model = _step_grads(model, "model", x, m)
    masker_step, g_masker = _step_grads(model, "masker", x, m)
    torch.testing.assert_close(joint["loss"], model_step["loss"])
    torch.testing.assert_close(joint["masker_loss"], masker_step["loss"].detach())
    for p in model.model_parameters():
        if g_model[id(p)] is None:
            assert g_joint[id(p)] is None or not g_joint[id(p)].any()
        else:
            torch.testing.assert_close(g_joint[id(p)], g_model[id(p)], rtol=1e-4, atol=1e-6)
    masker = model.masker_parameters()
    assert masker and sum(float(g_masker[id(p)].abs().sum()) for p in masker) > 0
    for p in masker:
        torch.testing.assert_close(g_joint[id(p)], g_masker[id(p)], rtol=1e-4, atol=1e-6)


def test_joint_step_needs_a_gumbel_adversary():
    for name in ("clip", "scar-randmask-mean"):
        with pytest.raises(ValueError, match="one-pass"):
            _model(name).forward_losses(*_batch(), TEXTS, "joint")


def test_masker_step_rejected_without_adversary():
    for name in ("clip", "merl", "scar-randmask-mean"):
        model = _model(name)
        assert not model.has_adversary and model.masker_parameters() == []
        x, m = _batch()
        with pytest.raises(ValueError, match="no adversarial masker"):
            model.forward_losses(x, m, TEXTS, "masker")
    with pytest.raises(ValueError, match="step_kind"):
        _model("scar").forward_losses(*_batch(), TEXTS, "critic")


def test_parameter_groups_partition():
    model = _model("scar")
    ids_model = {id(p) for p in model.model_parameters()}
    ids_masker = {id(p) for p in model.masker_parameters()}
    assert ids_masker and not ids_model & ids_masker
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert trainable == ids_model | ids_masker


def test_alternating_updates_reduce_model_loss_and_move_masker():
    torch.manual_seed(0)
    model = _model("scar").train()
    x, m = _batch(n=6, seed=1)
    m[0] = True
    opt_model = torch.optim.AdamW(model.model_parameters(), lr=3e-3)
    opt_masker = torch.optim.AdamW(model.masker_parameters(), lr=3e-3)
    masker_before = [p.detach().clone() for p in model.masker_parameters()]
    first = None
    for step in range(12):
        gen = torch.Generator().manual_seed(step)
        out = model(x, m, TEXTS, step_kind="model", generator=gen)
        first = first if first is not None else out["align"].item()
        opt_model.zero_grad(set_to_none=True)
        out["loss"].backward()
        opt_model.step()
        out = model(x, m, TEXTS, step_kind="masker", generator=gen)
        opt_masker.zero_grad(set_to_none=True)
        out["loss"].backward()
        opt_masker.step()
    model.eval()
    last = model(x, m, TEXTS, step_kind="model")["align"].item()
    assert last < first
    assert any(not torch.equal(a, b) for a, b in zip(masker_before, model.masker_parameters()))


@pytest.mark.parametrize("name", ["clip", "scar", "scar-randmask-mean"])
def test_encode_ecg_and_text_are_normalised(name):
    model = _model(name).eval()
    x, m = _batch()
    e = model.encode_ecg(x, m)
    u = model.encode_text(TEXTS)
    assert e.shape == (6, 16) and u.shape == (6, 16)
    torch.testing.assert_close(e.norm(dim=-1), torch.ones(6))
    torch.testing.assert_close(u.norm(dim=-1), torch.ones(6))


def test_inference_does_not_use_the_masker():
    model = _model("scar").eval()
    x, m = _batch()
    before = model.encode_ecg(x, m)
    with torch.no_grad():
        for p in model.masker_parameters():
            p.add_(torch.randn_like(p))
    torch.testing.assert_close(model.encode_ecg(x, m), before)
    model.masker = None
    torch.testing.assert_close(model.encode_ecg(x, m), before)


def test_temperature_clamped_and_learnable():
    model = _model("clip")
    assert model.scale().item() == pytest.approx(1 / 0.07, rel=1e-5)
    with torch.no_grad():
        model.logit_scale.fill_(10.0)
    assert model.scale().item() == pytest.approx(100.0, rel=1e-5)
    frozen = _model("clip", learn_temperature=False)
    assert not frozen.logit_scale.requires_grad


def test_text_count_mismatch():
    with pytest.raises(ValueError, match="texts"):
        _model("clip").forward_losses(*_batch(), TEXTS[:3])


@pytest.mark.parametrize("masker_input", ["contextual", "local"])
def test_masker_reads_the_configured_tokens_and_masker_step_trains_it(masker_input):
    model = _model("scar", masker={"mode": "adversarial", "logit_bound": 3.0, "input": masker_input,
                                   "centre": True}).eval()
    x, m = _batch()
    with torch.no_grad():
        tokens, tobs = model.encoder.embed_tokens(x, m)
        h = tokens if masker_input == "local" else model.encoder.encode_tokens(tokens, tobs)
        gate, tobs2 = model.removal_gates(x, m)
        torch.testing.assert_close(gate, model.masker(h, tobs).gate)
    assert torch.equal(tobs, tobs2)
    model.train()
    losses = model.forward_losses(x, m, TEXTS, "masker", generator=torch.Generator().manual_seed(0))
    losses["loss"].backward()
    assert any(g is not None and g.abs().sum() > 0 for g in _grads(model.masker_parameters()))
    assert all(g is None for g in _grads(model.encoder.parameters()))


def test_encode_ecg_accepts_numpy_and_matches_torch():
    import numpy as np

    from ecgfoundry.models.config import TextConfig
    from ecgfoundry.models.registry import create_model, get_model_config

    torch.manual_seed(0)
    model = create_model(get_model_config("clip", encoder="transformer-tiny", text=TextConfig(kind="hashing"))).eval()
    x = np.random.default_rng(0).normal(size=(2, 12, 500)).astype(np.float64)   # float64 numpy is accepted too
    m = np.ones(x.shape, dtype=bool)
    m[1, 4] = False
    with torch.no_grad():
        a = model.encode_ecg(x, m)
        b = model.encode_ecg(torch.from_numpy(x).float(), torch.from_numpy(m))
    torch.testing.assert_close(a, b)


def test_full_view_is_computed_without_dropout_and_batch_norm_stays_in_train_mode():
    """SCAR's full view (consistency target, masker input) is the encoder as at inference: no dropout
    in the transformer's blocks or attention, so it does not depend on the draw; the token embeddings
    the two views share keep theirs. Dropout and train mode come back afterwards."""
    from torch import nn

    from ecgfoundry.models.ecg_text import dropout_off

    model = _model("scar", encoder={"kind": "transformer", "patch_size": 50, "d_model": 32, "depth": 2,
                                    "heads": 2, "dropout": 0.5}).train()
    model.encoder.embed_drop = nn.Identity()   # so the shared token embeddings are the same in every call
    x, m = _batch()
    fulls = [model._scar_inputs(x, m.bool(), TEXTS, masker_step=False, need_full=True)[5] for _ in range(2)]
    torch.testing.assert_close(fulls[0], fulls[1])
    assert all(mod.training for mod in model.modules())
    model.eval()
    with torch.no_grad():
        tokens, tobs = model.encoder.embed_tokens(x, m)
        torch.testing.assert_close(fulls[0], model.ecg_proj(model.pool(model.encoder.encode_tokens(tokens, tobs), tobs)))
    bn = nn.Sequential(nn.BatchNorm1d(3), nn.Dropout(0.5)).train()
    with dropout_off(bn):
        assert bn[0].training and not bn[1].training
        y = bn(torch.ones(4, 3))
    assert torch.equal(y, torch.zeros(4, 3))      # batch statistics (train mode), no dropout scaling
    assert bn[1].training
