"""BYOL loss against the naive loop; EMA update and the cosine momentum schedule."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ecgfoundry.losses.ssl.byol import BYOLLoss
from ecgfoundry.models.momentum import cosine_momentum, update_momentum
from tests.losses.ssl.reference import naive_byol


@pytest.mark.parametrize("n", [1, 2, 5, 16])
@pytest.mark.parametrize("dim", [3, 32])
def test_matches_naive_reference(n, dim):
    g = torch.Generator().manual_seed(n + dim)
    p, z = torch.randn(n, dim, generator=g, dtype=torch.float64), torch.randn(n, dim, generator=g, dtype=torch.float64)
    torch.testing.assert_close(BYOLLoss()(p, z)["byol"], naive_byol(p, z), rtol=1e-9, atol=1e-9)


def test_known_answers_and_stop_gradient():
    p = torch.randn(4, 6)
    assert float(BYOLLoss()(p, 2 * p)["byol"]) == pytest.approx(0.0, abs=1e-6)
    assert float(BYOLLoss()(p, -p)["byol"]) == pytest.approx(4.0, abs=1e-5)
    p.requires_grad_()
    z = torch.randn(4, 6, requires_grad=True)
    BYOLLoss()(p, z)["byol"].backward()
    assert p.grad is not None and z.grad is None


def test_ema_update_exact():
    torch.manual_seed(0)
    online, target = nn.Linear(3, 2), nn.Linear(3, 2)
    before = [t.detach().clone() for t in target.parameters()]
    update_momentum(online, target, 0.9)
    for t0, o, t in zip(before, online.parameters(), target.parameters()):
        torch.testing.assert_close(t, 0.9 * t0 + 0.1 * o.detach())
    update_momentum(online, target, 0.0)  # m = 0 copies the online network
    for o, t in zip(online.parameters(), target.parameters()):
        torch.testing.assert_close(t, o.detach())
    with pytest.raises(ValueError):
        update_momentum(online, nn.Linear(3, 4), 0.5)


def test_cosine_schedule():
    assert cosine_momentum(0, 10, 0.99) == pytest.approx(0.99)
    assert cosine_momentum(5, 10, 0.99) == pytest.approx(0.995)
    assert cosine_momentum(10, 10, 0.99) == pytest.approx(1.0)
    values = [cosine_momentum(k, 10, 0.9) for k in range(11)]
    assert values == sorted(values)
