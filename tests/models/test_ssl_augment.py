"""SSL augmentations: zero + unobserved rules, seeding, each transform's effect, two views."""

from __future__ import annotations

import math

import pytest
import torch

from ecgfoundry.models.ssl_augment import (AmplitudeScale, BaselineWander, Compose, GaussianNoise, LeadMask,
                                           RandomCrop, TimeMask, TwoViewTransform, ssl_augmentation)


def _batch(n=8, t=1000, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 12, t, generator=g)
    m = torch.ones_like(x, dtype=torch.bool)
    m[0, 3] = False                     # a missing lead
    m[1, :, 200:300] = False            # a missing span
    return x * m, m


ALL = [RandomCrop(0.5, "resize"), RandomCrop(0.5, "pad"), AmplitudeScale(0.2), GaussianNoise(0.05),
       BaselineWander(100.0, 0.1), TimeMask(0.2), LeadMask(0.3), ssl_augmentation(100.0)]


@pytest.mark.parametrize("t", ALL, ids=lambda t: type(t).__name__ + getattr(t, "mode", ""))
def test_rules_every_transform_keeps(t):
    x, m = _batch()
    x0, m0 = x.clone(), m.clone()
    y, my = t(x, m, torch.Generator().manual_seed(1))
    assert y.shape == x.shape and my.dtype == torch.bool and y.dtype == x.dtype
    assert (y[~my] == 0).all()                           # unobserved samples are exactly 0
    assert torch.equal(x, x0) and torch.equal(m, m0)     # inputs untouched
    y2, my2 = t(x, m, torch.Generator().manual_seed(1))  # seeded
    assert torch.equal(y, y2) and torch.equal(my, my2)
    if not isinstance(t, RandomCrop) and not isinstance(t, Compose):
        assert not (my & ~m).any()                        # never marks missing data observed


def test_crop_resize_is_a_stretch_of_a_window():
    t = 1000
    ramp = torch.arange(t, dtype=torch.float32).expand(1, 12, t).clone()
    y, my = RandomCrop(0.5, "resize")(ramp, torch.ones_like(ramp, dtype=torch.bool), torch.Generator().manual_seed(3))
    d = torch.diff(y[0, 0])
    assert torch.allclose(d, d[0].expand_as(d), atol=1e-3)   # linear in, linear out: a uniform stretch
    assert 0.5 - 1e-3 <= float(d[0]) <= 1.0 and my.all()
    assert float(y[0, 0, 0]) >= 0 and float(y[0, 0, -1]) <= t - 1


def test_crop_pad_keeps_time_scale_and_marks_padding():
    t = 100
    ramp = torch.arange(t, dtype=torch.float32).expand(4, 12, t).clone()
    y, my = RandomCrop(0.3, "pad")(ramp, torch.ones_like(ramp, dtype=torch.bool), torch.Generator().manual_seed(4))
    for i in range(4):
        length = int(my[i, 0].sum())
        assert 30 <= length <= 100 and my[i, :, :length].all() and not my[i, :, length:].any()
        assert torch.allclose(torch.diff(y[i, 0, :length]), torch.ones(length - 1))


def test_amplitude_noise_wander_statistics():
    x = torch.ones(400, 12, 500)
    m = torch.ones_like(x, dtype=torch.bool)
    y, _ = AmplitudeScale(0.2, p=1.0)(x, m, torch.Generator().manual_seed(0))
    f = y[:, :, 0]
    assert 0.8 <= float(f.min()) and float(f.max()) <= 1.2 and abs(float(f.mean()) - 1) < 0.01
    assert torch.allclose(y, f[..., None].expand_as(y))        # one factor per lead
    y, _ = GaussianNoise(0.05, p=1.0)(torch.zeros_like(x), m, torch.Generator().manual_seed(0))
    assert abs(float(y.std()) - 0.05) < 0.001
    y, _ = BaselineWander(100.0, 0.1, p=1.0)(torch.zeros_like(x), m, torch.Generator().manual_seed(0))
    assert float(y.abs().max()) <= 0.1 + 1e-6 and float(y.abs().max()) > 0.09
    spectrum = torch.fft.rfft(y[0, 0]).abs()
    assert int(spectrum.argmax()) <= math.ceil(0.5 * 5)        # 5 s at 100 Hz: bins of 0.2 Hz, f <= 0.5 Hz
    # p = 0 leaves everything unchanged
    y, my = GaussianNoise(0.5, p=0.0)(x, m, torch.Generator().manual_seed(0))
    assert torch.equal(y, x) and torch.equal(my, m)


def test_time_mask_and_lead_mask():
    x = torch.randn(300, 12, 200)
    m = torch.ones_like(x, dtype=torch.bool)
    _, my = TimeMask(0.2, p=1.0)(x, m, torch.Generator().manual_seed(0))
    lost = (~my).sum(-1)
    assert (lost == lost[:, :1]).all()                           # the same span on every lead
    assert int(lost.max()) <= 40 and float(lost.float().mean()) == pytest.approx(20, abs=3)
    _, my = LeadMask(0.3, p=1.0)(x, m, torch.Generator().manual_seed(0))
    leads = my.any(-1)
    assert (my == leads[..., None]).all() and abs(1 - float(leads.float().mean()) - 0.3) < 0.03
    _, my = LeadMask(0.99, p=1.0)(x, m, torch.Generator().manual_seed(0))
    assert (my.any(-1).sum(-1) >= 1).all()                      # one lead always kept


def test_two_views_independent():
    x, m = _batch()
    (a, ma), (b, mb) = TwoViewTransform(ssl_augmentation(100.0))(x, m, torch.Generator().manual_seed(0))
    assert not torch.equal(a, b) and a.shape == b.shape == x.shape
    with pytest.raises(ValueError):
        RandomCrop(0.0)
    with pytest.raises(ValueError):
        AmplitudeScale(0.1)(torch.randn(2, 12, 10), torch.ones(2, 12, 11, dtype=torch.bool))
