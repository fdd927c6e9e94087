"""Input normalisation inside the encoders and the per-lead convolutional stem."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecgfoundry.models.config import EncoderConfig
from ecgfoundry.models.build import build_encoder
from ecgfoundry.models.input_norm import zscore_leads
from ecgfoundry.models.transformer import LeadStem, _stride_factors
from ecgfoundry.signals.normalize import zscore


def test_zscore_leads_matches_numpy_reference_on_observed_samples():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(3, 12, 200)) * rng.uniform(0.05, 2, size=(3, 12, 1)) + 0.3).astype(np.float32)
    m = rng.random((3, 12, 200)) > 0.3
    m[0, 4] = False                                   # a lead with no observed sample
    ref, _ = zscore(x, m)
    got = zscore_leads(torch.from_numpy(x), torch.from_numpy(m)).numpy()
    np.testing.assert_allclose(got, ref, atol=1e-5)
    assert (got[~m] == 0).all() and (got[0, 4] == 0).all()


def test_zscore_floor_keeps_a_flat_lead_small():
    x = torch.zeros(1, 1, 100)
    x[0, 0, ::2] = 0.001                               # std 0.0005 mV: noise, not signal
    out = zscore_leads(x, torch.ones_like(x, dtype=torch.bool))
    assert out.abs().max() == pytest.approx(0.0005 / 0.01, rel=1e-4)


@pytest.mark.parametrize("kind", ["transformer", "resnet1d"])
def test_zscore_encoders_are_invariant_to_gain_and_offset_per_lead(kind):
    """With input_norm='zscore' a record in uV-scaled units or with a baseline offset per lead gives the
    same tokens; with 'none' it does not."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 12, 500, generator=g)
    m = torch.ones_like(x, dtype=torch.bool)
    gain = torch.rand(1, 12, 1, generator=g) * 5 + 0.5
    y = x * gain + torch.randn(1, 12, 1, generator=g)
    for norm, same in (("zscore", True), ("none", False)):
        extra = {"patch_size": 50, "d_model": 32, "depth": 1, "heads": 2} if kind == "transformer" else {
            "resnet_layers": (1, 1), "resnet_widths": (16, 32), "pool_heads": 2}
        enc = build_encoder(EncoderConfig(kind=kind, input_norm=norm, **extra)).eval()
        with torch.no_grad():
            close = torch.allclose(enc(x, m).tokens, enc(y, m).tokens, atol=1e-4)
        assert close is same, norm


@pytest.mark.parametrize("patch, factors", [(50, [5, 5, 2]), (100, [5, 5, 4]), (25, [5, 5]), (14, [7, 2]), (1, [1])])
def test_stride_factors_multiply_to_the_patch(patch, factors):
    assert _stride_factors(patch) == factors and int(np.prod(factors)) == patch


def test_lead_stem_emits_one_token_per_patch_and_is_shift_equivariant():
    torch.manual_seed(0)
    stem = LeadStem(patch_size=10, dim=8, width=16).eval()
    x = torch.randn(1, 2, 200)
    m = torch.ones_like(x, dtype=torch.bool)
    with torch.no_grad():
        out = stem(x, m)
        shifted = stem(torch.roll(x, 10, dims=-1), m)
    assert out.shape == (1, 2 * 20, 8)
    # lead-major order; a shift by one patch moves every interior token by one position
    a = out.reshape(1, 2, 20, 8)[:, :, 3:15]
    b = shifted.reshape(1, 2, 20, 8)[:, :, 4:16]
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_stem_transformer_forward_backward_and_missing_lead():
    cfg = EncoderConfig(kind="transformer", patch_size=50, d_model=32, depth=1, heads=2, token_encoder="stem",
                        stem_width=16, input_norm="zscore")
    enc = build_encoder(cfg)
    x = torch.randn(2, 12, 500)
    m = torch.ones_like(x, dtype=torch.bool)
    m[1, 3] = False
    out = enc(x, m)
    assert out.tokens.shape == (2, 120, 32)
    assert not out.token_observed[1, 30:40].any() and out.token_observed[0].all()
    out.pooled.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in enc.parameters() if p.requires_grad)
