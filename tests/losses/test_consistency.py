"""Consistency loss: naive reference, stop-gradient, zero vectors."""

from __future__ import annotations

import pytest
import torch

from ecgfoundry.losses.consistency import ConsistencyLoss
from tests.losses.reference import naive_consistency


@pytest.mark.parametrize("n", [1, 3, 8])
def test_matches_naive(n):
    g = torch.Generator().manual_seed(n)
    a, b = torch.randn(n, 5, generator=g), torch.randn(n, 5, generator=g)
    torch.testing.assert_close(ConsistencyLoss()(a, b)["consistency"], naive_consistency(a, b))


def test_known_answers_and_stopgrad():
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]], requires_grad=True)
    b = torch.tensor([[3.0, 0.0], [0.0, -1.0]], requires_grad=True)
    loss = ConsistencyLoss()(a, b)["consistency"]
    torch.testing.assert_close(loss, torch.tensor(1.0))  # (0 + 2) / 2
    loss.backward()
    assert b.grad is None and a.grad is not None


def test_zero_vector_is_finite():
    a = torch.zeros(2, 3, requires_grad=True)
    loss = ConsistencyLoss()(a, torch.randn(2, 3))["consistency"]
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(a.grad).all()
    with pytest.raises(ValueError):
        ConsistencyLoss(eps=0)
