"""Missingness augmentation: zero-filled + unobserved, at least one lead kept, span lengths, seeds."""

from __future__ import annotations

import pytest
import torch

from ecgfoundry.models.augment import MissingnessAugment


def _batch(n=64, t=1000):
    x = torch.randn(n, 12, t)
    return x, torch.ones_like(x, dtype=torch.bool)


def test_masked_samples_are_zero_and_unobserved_and_subset():
    x, m = _batch()
    m[0, 3] = False
    x[0, 3] = 0
    x2, m2 = MissingnessAugment()(x, m, torch.Generator().manual_seed(0))
    assert (x2[~m2] == 0).all()
    assert not (m2 & ~m).any()                       # never marks missing data observed
    torch.testing.assert_close(x2[m2], x[m2])


def test_lead_drop_rate_and_at_least_one_lead():
    x, m = _batch(n=2000, t=20)
    _, m2 = MissingnessAugment(lead_drop_p=0.2, span_min=0.0, span_max=0.0)(x, m, torch.Generator().manual_seed(1))
    lead_obs = m2.any(-1)
    assert abs(1 - lead_obs.float().mean().item() - 0.2) < 0.01
    _, m3 = MissingnessAugment(lead_drop_p=0.99, span_min=0.0, span_max=0.0)(x, m, torch.Generator().manual_seed(1))
    assert (m3.any(-1).sum(-1) >= 1).all()


def test_one_span_per_lead_of_5_to_10_percent():
    x, m = _batch(n=16, t=1000)
    _, m2 = MissingnessAugment(lead_drop_p=0.0)(x, m, torch.Generator().manual_seed(2))
    missing = (~m2).sum(-1)                          # per lead
    assert ((missing >= 50) & (missing <= 100)).all()
    # contiguous: exactly one run of missing samples per lead
    edges = (m2[..., 1:] != m2[..., :-1]).sum(-1) + (~m2[..., 0]).long() + (~m2[..., -1]).long()
    assert (edges == 2).all()


def test_seeded_and_on_device_of_input():
    x, m = _batch(n=4)
    aug = MissingnessAugment()
    a = aug(x, m, torch.Generator().manual_seed(5))
    b = aug(x, m, torch.Generator().manual_seed(5))
    assert torch.equal(a[1], b[1]) and a[0].device == x.device
    with pytest.raises(ValueError):
        MissingnessAugment(lead_drop_p=1.0)
