"""Masking budget: known answers and reference."""

from __future__ import annotations

import pytest
import torch

from ecgfoundry.losses.budget import MaskBudgetLoss
from tests.losses.reference import naive_budget


def test_known_answers():
    g = torch.tensor([[0.0, 1.0, 0.5, 0.5]])
    out = MaskBudgetLoss(0.3)(g)
    torch.testing.assert_close(out["budget"], torch.tensor(0.04))  # (0.5 - 0.3)^2
    torch.testing.assert_close(out["mask_rate"], torch.tensor(0.5))
    obs = torch.tensor([[True, True, False, False]])
    torch.testing.assert_close(MaskBudgetLoss(0.5)(g, obs)["budget"], torch.tensor(0.0))
    torch.testing.assert_close(MaskBudgetLoss(0.25)(torch.full((3, 7), 0.25))["budget"], torch.tensor(0.0))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("rho", [0.1, 0.5, 0.9])
def test_matches_naive(seed, rho):
    gen = torch.Generator().manual_seed(seed)
    g = torch.rand(4, 9, generator=gen)
    obs = torch.rand(4, 9, generator=gen) > 0.3
    out = MaskBudgetLoss(rho)(g, obs)["budget"]
    assert out.item() == pytest.approx(naive_budget(g, obs, rho), rel=1e-5, abs=1e-7)


def test_no_observed_tokens_and_gradient():
    g = torch.full((2, 3), 0.7, requires_grad=True)
    out = MaskBudgetLoss(0.3)(g, torch.zeros(2, 3, dtype=torch.bool))
    torch.testing.assert_close(out["budget"], torch.tensor(0.09))
    loss = MaskBudgetLoss(0.3)(g)["budget"]
    loss.backward()
    torch.testing.assert_close(g.grad, torch.full((2, 3), 2 * 0.4 / 6))
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError):
            MaskBudgetLoss(bad)
