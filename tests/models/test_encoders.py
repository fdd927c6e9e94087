"""Every registered encoder: forward/backward shapes, unobserved handling, no NaN."""

from __future__ import annotations

import pytest
import torch

from ecgfoundry.models.registry import create_encoder, get_encoder_config, list_encoders

T = 500


@pytest.fixture(scope="module")
def encoders():
    torch.manual_seed(0)
    return {name: create_encoder(name) for name in list_encoders()}


def _batch(n=2, t=T, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 12, t, generator=g), torch.ones(n, 12, t, dtype=torch.bool)


@pytest.mark.parametrize("name", list_encoders())
def test_forward_backward_shapes(encoders, name):
    enc = encoders[name]
    enc.train()
    x, m = _batch()
    out = enc(x, m)
    n_tok = enc.n_tokens(T)
    assert out.tokens.shape == (2, n_tok, enc.dim)
    assert out.token_observed.shape == (2, n_tok) and out.token_observed.dtype == torch.bool
    assert out.pooled.shape == (2, enc.dim)
    (out.pooled.square().mean() + out.tokens.mean()).backward()
    grads = [p.grad for p in enc.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    enc.zero_grad(set_to_none=True)


@pytest.mark.parametrize("name", list_encoders())
def test_all_unobserved_record_is_finite_and_unobserved(encoders, name):
    enc = encoders[name]
    enc.eval()
    x, m = _batch()
    x[0] = 0.0
    m[0] = False
    m[1, :, :100] = False            # first 100 samples of every lead missing
    x[1, :, :100] = 0.0
    out = enc(x, m)
    assert torch.isfinite(out.tokens).all() and torch.isfinite(out.pooled).all()
    assert not out.token_observed[0].any()
    assert torch.count_nonzero(out.pooled[0]) == 0
    assert out.token_observed[1].any()
    cfg = get_encoder_config(name)
    if cfg.kind == "transformer":
        tok = out.token_observed[1].view(12, -1)
        assert not tok[:, : 100 // cfg.patch_size].any()
    else:
        stride = enc.stride
        assert not out.token_observed[1, : 100 // stride].any()


@pytest.mark.parametrize("name", ["transformer-tiny", "resnet1d-tiny"])
def test_gradients_finite_with_all_unobserved_record(encoders, name):
    enc = encoders[name]
    enc.train()
    x, m = _batch()
    m[0] = False
    x[0] = 0
    out = enc(x, m)
    out.pooled.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in enc.parameters() if p.grad is not None)
    enc.zero_grad(set_to_none=True)


def test_transformer_ignores_unobserved_token_values():
    enc = create_encoder("transformer-tiny").eval()
    x, m = _batch()
    m[:, 2, 100:150] = False          # one token of lead 2
    out1 = enc(x, m)
    x2 = x.clone()
    x2[:, 2, 100:150] = 123.0         # garbage where unobserved
    out2 = enc(x2, m)
    torch.testing.assert_close(out1.pooled, out2.pooled)


def test_too_long_signal_is_a_clear_error():
    enc = create_encoder("transformer-tiny")
    x, m = _batch(t=50 * 40)
    with pytest.raises(ValueError, match="max_time_patches"):
        enc(x, m)


def test_overrides():
    enc = create_encoder("transformer-tiny", d_model=16, heads=4)
    assert enc.dim == 16


def test_attention_dropout_follows_dropout_unless_set():
    """``attn_dropout`` None keeps the attention weights' dropout at ``dropout``; 0 switches it off
    while the MLP and embedding dropout stay, and the attention is then deterministic in train mode."""
    from ecgfoundry.models.config import EncoderConfig
    from ecgfoundry.models.transformer import Attention, TransformerEncoder

    base = dict(patch_size=50, d_model=16, depth=1, heads=2, dropout=0.3)
    rates = {a: [m.dropout for m in TransformerEncoder(EncoderConfig(**base, attn_dropout=a)).modules()
                 if isinstance(m, Attention)] for a in (None, 0.0)}
    assert rates == {None: [0.3], 0.0: [0.0]}
    enc = TransformerEncoder(EncoderConfig(**base, attn_dropout=0.0)).train()
    attn = enc.blocks[0].attn
    x, bias = torch.randn(3, 5, 16), torch.zeros(3, 5)
    torch.testing.assert_close(attn(x, bias), attn(x, bias))
    assert enc.blocks[0].mlp[2].p == 0.3 and enc.embed_drop.p == 0.3
    assert EncoderConfig.from_dict(EncoderConfig(**base, attn_dropout=0.0).to_dict()).attn_dropout == 0.0


def test_resnet_mean_pool_is_the_masked_mean_and_has_no_attention_weights():
    """``resnet_pool="mean"``: the pooled vector is the mean of the observed time steps, weighted by
    ``1 - g`` when gates are given; the attention pooling's parameters are not built."""
    from ecgfoundry.models.config import EncoderConfig
    from ecgfoundry.models.resnet1d import ResNet1dEncoder

    cfg = dict(kind="resnet1d", resnet_layers=(1, 1), resnet_widths=(8, 16), pool_heads=2)
    attn = ResNet1dEncoder(EncoderConfig(**cfg))
    mean = ResNet1dEncoder(EncoderConfig(**cfg, resnet_pool="mean")).eval()
    n_attn = sum(p.numel() for p in attn.parameters())
    assert n_attn - sum(p.numel() for p in mean.parameters()) == sum(p.numel() for p in attn.attn_pool.parameters())
    tokens = torch.randn(2, 5, 16)
    tobs = torch.tensor([[True, True, False, True, True], [True] * 5])
    keep_log = torch.log(torch.tensor([[1.0, 0.5, 1.0, 0.25, 1.0], [1.0] * 5]))
    w = keep_log.exp() * tobs
    expect = (w[..., None] * tokens).sum(1) / w.sum(1, keepdim=True)
    torch.testing.assert_close(mean.pool(tokens, tobs, keep_log), expect)
    torch.testing.assert_close(mean.pool(tokens, tobs), torch.stack([tokens[0, tobs[0]].mean(0), tokens[1].mean(0)]))
    with pytest.raises(Exception, match="resnet_pool"):
        EncoderConfig(**cfg, resnet_pool="max")
