"""NT-Xent against the naive loop over batch sizes and temperatures; known answers."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ecgfoundry.losses.ssl.ntxent import NTXentLoss, nt_xent
from tests.losses.ssl.reference import naive_ntxent


@pytest.mark.parametrize("n", [2, 3, 8])
@pytest.mark.parametrize("tau", [0.05, 0.1, 0.5, 1.0])
def test_matches_naive_reference(n, tau):
    g = torch.Generator().manual_seed(n * 100 + int(tau * 100))
    z0 = torch.randn(n, 5, generator=g, dtype=torch.float64)
    z1 = torch.randn(n, 5, generator=g, dtype=torch.float64)
    got = NTXentLoss(temperature=tau)(z0, z1)["contrastive"]
    torch.testing.assert_close(got, naive_ntxent(z0, z1, tau), rtol=1e-9, atol=1e-9)


def test_known_answers():
    # identical orthogonal views: positive cos 1, every negative cos 0 -> -log(e^(1/t) / (e^(1/t) + 2N - 2))
    n, tau = 4, 0.5
    z = torch.eye(n, dtype=torch.float64)
    expected = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + 2 * n - 2))
    assert float(NTXentLoss(tau)(z, z)["contrastive"]) == pytest.approx(expected, rel=1e-12)
    # scale invariance (cosine similarities) and symmetry in the two views
    a, b = torch.randn(6, 4, dtype=torch.float64), torch.randn(6, 4, dtype=torch.float64)
    loss = NTXentLoss(0.2)
    torch.testing.assert_close(loss(3 * a, b)["contrastive"], loss(a, b)["contrastive"])
    torch.testing.assert_close(loss(b, a)["contrastive"], loss(a, b)["contrastive"])


def test_all_negative_weights_zero_gives_zero_loss_and_weights_one_is_plain():
    a, b = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    ones = torch.zeros(10, 10, dtype=torch.float64)  # log 1
    torch.testing.assert_close(nt_xent(a, b, 0.3, ones), nt_xent(a, b, 0.3))
    none = torch.full((10, 10), float("-inf"), dtype=torch.float64)
    assert float(nt_xent(a, b, 0.3, none)) == pytest.approx(0.0, abs=1e-12)


def test_gradient_pulls_positives_together():
    a = torch.randn(8, 6, requires_grad=True)
    b = (a.detach() + 0.5 * torch.randn(8, 6)).requires_grad_()
    opt = torch.optim.SGD([a, b], lr=0.5)
    before = F.cosine_similarity(a, b).mean().item()
    for _ in range(20):
        opt.zero_grad()
        NTXentLoss(0.1)(a, b)["contrastive"].backward()
        opt.step()
    assert F.cosine_similarity(a, b).mean().item() > before


def test_bad_input():
    with pytest.raises(ValueError):
        NTXentLoss(0.0)
    with pytest.raises(ValueError):
        NTXentLoss()(torch.randn(3, 4), torch.randn(3, 5))
    with pytest.raises(ValueError):
        NTXentLoss()(torch.randn(1, 4), torch.randn(1, 4))
