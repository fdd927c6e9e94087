"""FGSM / PGD on tiny models with analytic gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ecgfoundry.eval.adversarial import attack_loss, fgsm, pgd


class TinyLinear(nn.Module):
    """logits = W . flatten(signal * observed) + b; records which mode it was called in."""

    def __init__(self, t: int, k: int, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w = nn.Parameter(torch.randn(k, 12 * t, generator=g) * 0.1)
        self.b = nn.Parameter(torch.zeros(k))
        self.drop = nn.Dropout(0.5)
        self.modes: list[bool] = []

    def forward(self, signal, observed):
        self.modes.append(self.training)
        x = self.drop((signal * observed).flatten(1))
        return x @ self.w.T + self.b


def _data(n=6, t=20, k=3, seed=0):
    rng = np.random.default_rng(seed)
    sig = rng.normal(size=(n, 12, t)).astype(np.float32)
    obs = rng.random((n, 12, t)) > 0.25
    obs[:, 3] = False  # one lead fully missing
    sig[~obs] = 0
    y = (rng.random((n, k)) < 0.5).astype(np.float32)
    return sig, obs, y


def _loss(model, sig, obs, y, loss="bce"):
    model.eval()  # dropout off, as during the attack
    with torch.no_grad():
        return attack_loss(model(torch.as_tensor(sig), torch.as_tensor(obs)), torch.as_tensor(y), loss).item()


def test_fgsm_equals_analytic_sign_gradient_step():
    sig, obs, y = _data()
    model = TinyLinear(20, 3)
    eps = 0.05
    adv = fgsm(model, sig, obs, y, eps)
    w = model.w.detach().numpy().astype(np.float64)
    z = (sig * obs).reshape(len(sig), -1) @ w.T
    grad = ((1 / (1 + np.exp(-z)) - y) @ w).reshape(sig.shape) * obs  # d BCE / d x
    expected = (sig + eps * np.sign(grad)) * obs
    assert adv.dtype == np.float32
    np.testing.assert_allclose(adv, expected, atol=1e-6)


def test_fgsm_l2_and_std_units():
    sig, obs, y = _data(seed=1)
    model = TinyLinear(20, 3, seed=1)
    adv = fgsm(model, sig, obs, y, 0.5, norm="l2")
    norms = np.linalg.norm((adv - sig).reshape(len(sig), -1), axis=1)
    np.testing.assert_allclose(norms, 0.5, rtol=1e-5)
    adv = fgsm(model, sig * 3, obs, y, 0.1, eps_unit="std")
    std = np.array([s[o].std() for s, o in zip(sig * 3, obs)])
    np.testing.assert_allclose(np.abs(adv - sig * 3).reshape(len(sig), -1).max(axis=1), 0.1 * std, rtol=1e-5)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_pgd_stays_in_ball_increases_loss_and_keeps_unobserved(norm):
    sig, obs, y = _data(seed=2)
    model = TinyLinear(20, 3, seed=2)
    eps = 0.1 if norm == "linf" else 1.0
    adv = pgd(model, sig, obs, y, eps, steps=8, norm=norm, seed=0, batch_size=4)
    d = (adv - sig).reshape(len(sig), -1)
    if norm == "linf":
        assert np.abs(d).max() <= eps + 1e-6
    else:
        assert np.linalg.norm(d, axis=1).max() <= eps * (1 + 1e-5)
    assert np.all(adv[~obs] == 0)
    clean, attacked = _loss(model, sig, obs, y), _loss(model, adv, obs, y)
    assert attacked > clean
    # PGD from a random start does at least as well as FGSM on a linear model (same optimum)
    if norm == "linf":
        assert attacked >= _loss(model, fgsm(model, sig, obs, y, eps), obs, y) - 1e-4


def test_pgd_seeded_and_model_mode_restored():
    sig, obs, y = _data(seed=3)
    model = TinyLinear(20, 3, seed=3)
    model.train()
    a = pgd(model, sig, obs, y, 0.05, steps=3, seed=7)
    b = pgd(model, sig, obs, y, 0.05, steps=3, seed=7)
    c = pgd(model, sig, obs, y, 0.05, steps=3, seed=8, step_size=0.001)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert model.training  # restored
    assert not any(model.modes)  # attacked in eval mode (dropout off)
    assert model.w.grad is None  # parameter gradients untouched


def test_cross_entropy_and_torch_inputs():
    sig, obs, _ = _data(seed=4)
    model = TinyLinear(20, 4, seed=4)
    labels = np.array([0, 1, 2, 3, 0, 1])
    ts, to = torch.from_numpy(sig), torch.from_numpy(obs)
    adv = pgd(model, ts, to, torch.from_numpy(labels), 0.05, loss="ce", steps=5)
    assert isinstance(adv, torch.Tensor) and adv.shape == ts.shape
    assert _loss(model, adv.numpy(), obs, labels, "ce") > _loss(model, sig, obs, labels, "ce")
    onehot = np.eye(4)[labels]
    np.testing.assert_allclose(fgsm(model, sig, obs, onehot, 0.05, loss="ce"),
                               fgsm(model, sig, obs, labels, 0.05, loss="ce"))
    with pytest.raises(ValueError, match="norm"):
        fgsm(model, sig, obs, labels, 0.05, norm="l1")
