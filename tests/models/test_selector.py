"""Selector pooling: softmax over Omega_m only; empty Omega_m gives zeros without NaN."""

from __future__ import annotations

import torch

from ecgfoundry.models.selector import Selector, masked_softmax_pool, masked_softmax_weights


def _setup(seed=0):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(3, 12, 8, generator=g)
    obs = torch.ones(3, 12, dtype=torch.bool)
    obs[0, 2] = False
    keep_log = torch.zeros(3, 12)
    keep_log[0, 5] = float("-inf")     # hard-removed
    keep_log[1, 0] = -2.0              # soft
    return h, obs, keep_log


def test_weights_sum_to_one_and_exclude():
    sel = Selector(8, 16)
    h, obs, keep_log = _setup()
    a = sel.weights(h, obs, keep_log)
    torch.testing.assert_close(a.sum(-1), torch.ones(3))
    assert a[0, 2] == 0 and a[0, 5] == 0


def test_changing_excluded_token_features_does_not_change_z():
    torch.manual_seed(0)
    sel = Selector(8, 16)
    h, obs, keep_log = _setup()
    z = sel(h, obs, keep_log)
    h2 = h.clone()
    h2[0, 2] = 50 * torch.randn(8)     # unobserved
    h2[0, 5] = -50 * torch.randn(8)    # removed by the masker
    torch.testing.assert_close(sel(h2, obs, keep_log), z)
    h3 = h.clone()
    h3[0, 7] += 1.0                    # a visible token does matter
    assert not torch.allclose(sel(h3, obs, keep_log)[0], z[0])


def test_soft_removal_matches_reference():
    h, obs, keep_log = _setup()
    s = torch.randn(3, 12)
    a = masked_softmax_weights(obs, s, keep_log)
    for i in range(3):
        w = [(torch.exp(s[i, j]) * torch.exp(keep_log[i, j])).item() if obs[i, j] else 0.0 for j in range(12)]
        ref = torch.tensor(w) / sum(w)
        torch.testing.assert_close(a[i], ref)


def test_mean_pool_without_scores():
    h, obs, _ = _setup()
    z = masked_softmax_pool(h, obs)
    torch.testing.assert_close(z[0], h[0][obs[0]].mean(0))


def test_empty_omega_gives_zeros_and_finite_grads():
    sel = Selector(8, 16)
    h = torch.randn(2, 5, 8, requires_grad=True)
    obs = torch.ones(2, 5, dtype=torch.bool)
    obs[0] = False
    keep_log = torch.zeros(2, 5)
    keep_log[1] = float("-inf")
    z = sel(h, obs, keep_log)
    assert torch.equal(z, torch.zeros_like(z))
    z.sum().backward()
    assert torch.isfinite(h.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in sel.parameters())
