"""Lead x time transformer ECG encoder (SCAR's spatio-temporal token encoder).

Every lead is cut into temporal patches (:mod:`ecgfoundry.models.tokenizer`); a token encoder
phi_tok shared by all leads embeds each patch (its samples and their observed mask); learned lead
and time position embeddings are added; a pre-norm transformer runs over all lead x time tokens.
Unobserved tokens are excluded as attention keys and from the pooled mean. A record with no
observed token attends over all (zero-information) tokens instead, so nothing becomes NaN; its
pooled output is the zero vector.

The encoder is split in two steps so the ECG–text model can remove tokens between them:
``embed_tokens`` (patching + phi_tok + positions) and ``encode_tokens`` (the transformer, with an
optional soft removal ``keep_log = log(1 - g)``: token inputs are scaled by ``1 - g`` and
``log(1 - g)`` is added to the attention logits of that key, so a removed token is neither seen
nor attended to).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ecgfoundry.models.config import EncoderConfig
from ecgfoundry.models.encoder_output import EncoderOutput
from ecgfoundry.models.input_norm import normalize_input
from ecgfoundry.models.selector import masked_softmax_pool
from ecgfoundry.models.tokenizer import n_time_patches, patchify

__all__ = ["TokenEncoder", "LeadStem", "Attention", "Block", "TransformerEncoder", "key_bias"]


class TokenEncoder(nn.Module):
    """phi_tok: embeds one patch (samples, observed mask) into a D-vector; shared by all leads.

    Parameters
    ----------
    patch_size : int
    dim : int
    kind : {"mlp", "conv"}
        ``"mlp"``: two linear layers over the 2 x patch_size inputs; ``"conv"``: two strided 1-D
        convolutions over the patch samples, global average, linear.
    """

    def __init__(self, patch_size: int, dim: int, kind: str = "mlp"):
        super().__init__()
        self.kind = kind
        if kind == "mlp":
            self.net = nn.Sequential(nn.Linear(2 * patch_size, dim), nn.GELU(), nn.Linear(dim, dim))
        elif kind == "conv":
            width = max(dim // 4, 16)
            self.net = nn.Sequential(
                nn.Conv1d(2, width, 7, stride=2, padding=3), nn.GELU(),
                nn.Conv1d(width, width, 5, stride=2, padding=2), nn.GELU(),
                nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(width, dim))
        else:
            raise ValueError(f"token encoder kind must be 'mlp' or 'conv', got {kind!r}")

    def forward(self, values: Tensor, sample_observed: Tensor) -> Tensor:
        """(N, M, S) samples and mask -> (N, M, D)."""
        n, m, s = values.shape
        obs = sample_observed.to(values.dtype)
        if self.kind == "mlp":
            return self.net(torch.cat([values, obs], dim=-1))
        x = torch.stack([values, obs], dim=2).reshape(n * m, 2, s)
        return self.net(x).reshape(n, m, -1)


def _stride_factors(n: int) -> list[int]:
    """``n`` as a product of strides, largest first, each at most 5 where possible (50 -> [5, 5, 2])."""
    out, rest = [], int(n)
    for f in (5, 4, 3, 2):
        while rest % f == 0 and rest > 1:
            out.append(f)
            rest //= f
    if rest > 1:  # a prime factor above 5 becomes one stride of its own
        out.append(rest)
    return sorted(out, reverse=True) or [1]


class LeadStem(nn.Module):
    """A convolutional stem shared by all leads that emits one token per patch of each lead.

    Each lead (its samples and its observed mask, 2 channels) goes through a stride-1 convolution and
    then strided convolutions whose strides multiply to ``patch_size``, so the lead of ``P * patch_size``
    samples becomes ``P`` feature vectors: shift-invariant features that, unlike a per-patch MLP, see
    a little context on both sides of a patch (the receptive field is about 1.6 patches). A token is
    still one lead x one time patch, so lead x time missingness and SCAR's removal keep their meaning;
    a removed token's samples can reach its neighbours' features only through that small border.

    Parameters
    ----------
    patch_size : int
    dim : int
        Token width D.
    width : int
        Channels of the intermediate convolutions.
    """

    def __init__(self, patch_size: int, dim: int, width: int = 64):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(2, width // 2, 7, padding=3), nn.BatchNorm1d(width // 2), nn.GELU()]
        prev = width // 2
        factors = _stride_factors(patch_size)
        for i, f in enumerate(factors):
            last = i == len(factors) - 1
            out = dim if last else width
            layers.append(nn.Conv1d(prev, out, 2 * f + 1, stride=f, padding=f))
            if not last:
                layers += [nn.BatchNorm1d(out), nn.GELU()]
            prev = out
        self.net = nn.Sequential(*layers)
        self.patch_size = patch_size

    def forward(self, signal: Tensor, observed: Tensor) -> Tensor:
        """(N, L, P * patch_size) samples (zero where unobserved) and mask -> (N, L * P, D), lead-major."""
        n, n_leads, t = signal.shape
        x = torch.stack([signal, observed.to(signal.dtype)], dim=2).reshape(n * n_leads, 2, t)
        feats = self.net(x)                                  # (N * L, D, P)
        return feats.reshape(n, n_leads, feats.shape[1], -1).permute(0, 1, 3, 2).reshape(n, -1, feats.shape[1])


def key_bias(token_observed: Tensor, keep_log: Tensor | None = None) -> Tensor:
    """Additive attention bias over keys (N, M): ``log(1 - g)`` for observed tokens, ``-inf`` for
    unobserved (or hard-removed) ones; rows without any valid key get 0 everywhere (no NaN)."""
    valid = token_observed.to(torch.bool)
    bias = keep_log if keep_log is not None else torch.zeros(valid.shape, device=valid.device)
    if keep_log is not None:
        valid = valid & (keep_log > float("-inf"))
    bias = bias.masked_fill(~valid, float("-inf"))
    return bias.masked_fill(~valid.any(-1, keepdim=True), 0.0)


class Attention(nn.Module):
    """Multi-head self-attention with an additive key bias (N, M)."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(self, x: Tensor, bias: Tensor) -> Tensor:
        n, m, d = x.shape
        q, k, v = self.qkv(x).reshape(n, m, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        mask = bias[:, None, None, :].to(q.dtype)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                             dropout_p=self.dropout if self.training else 0.0)
        return self.proj(out.transpose(1, 2).reshape(n, m, d))


class Block(nn.Module):
    """Pre-norm transformer block: x + Attn(LN(x)); x + MLP(LN(x))."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, dropout: float = 0.0,
                 attn_dropout: float | None = None):
        super().__init__()
        hidden = max(1, int(round(dim * mlp_ratio)))
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, dropout if attn_dropout is None else attn_dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, dim), nn.Dropout(dropout))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, bias: Tensor) -> Tensor:
        x = x + self.drop(self.attn(self.norm1(x), bias))
        return x + self.mlp(self.norm2(x))


class TransformerEncoder(nn.Module):
    """Lead x time transformer over patch tokens.

    Parameters
    ----------
    cfg : EncoderConfig
        ``kind="transformer"``; uses ``patch_size``, ``max_time_patches``, ``d_model``, ``depth``,
        ``heads``, ``mlp_ratio``, ``dropout``, ``attn_dropout``, ``token_encoder``, ``min_observed_fraction``,
        ``n_leads``.

    Examples
    --------
    >>> from ecgfoundry.models.config import EncoderConfig
    >>> enc = TransformerEncoder(EncoderConfig(patch_size=50, d_model=32, depth=1, heads=2))
    >>> out = enc(torch.randn(2, 12, 1000), torch.ones(2, 12, 1000, dtype=torch.bool))
    >>> tuple(out.tokens.shape), tuple(out.pooled.shape)
    ((2, 240, 32), (2, 32))
    """

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        if cfg.kind != "transformer":
            raise ValueError(f"TransformerEncoder needs kind='transformer', got {cfg.kind!r}")
        self.cfg = cfg
        d = cfg.d_model
        if cfg.token_encoder == "stem":
            self.token_encoder: nn.Module = LeadStem(cfg.patch_size, d, cfg.stem_width)
        else:
            self.token_encoder = TokenEncoder(cfg.patch_size, d, cfg.token_encoder)
        self.lead_embed = nn.Embedding(cfg.n_leads, d)
        self.time_embed = nn.Embedding(cfg.max_time_patches, d)
        self.embed_drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(d, cfg.heads, cfg.mlp_ratio, cfg.dropout, cfg.attn_dropout)
                                    for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(d)
        nn.init.normal_(self.lead_embed.weight, std=0.02)
        nn.init.normal_(self.time_embed.weight, std=0.02)

    @property
    def dim(self) -> int:
        return self.cfg.d_model

    def n_tokens(self, n_samples: int) -> int:
        """Tokens M for a signal of ``n_samples`` samples."""
        return self.cfg.n_leads * n_time_patches(n_samples, self.cfg.patch_size)

    def embed_tokens(self, signal: Tensor, observed: Tensor) -> tuple[Tensor, Tensor]:
        """Patch, embed with phi_tok and add lead/time positions.

        Returns ``x`` (N, M, D) and ``token_observed`` (N, M) bool.
        """
        if signal.shape[1] != self.cfg.n_leads:
            raise ValueError(f"signal has {signal.shape[1]} leads, the encoder expects {self.cfg.n_leads}")
        n_time = n_time_patches(signal.shape[-1], self.cfg.patch_size)
        if n_time > self.cfg.max_time_patches:
            raise ValueError(f"signal of {signal.shape[-1]} samples gives {n_time} patches per lead, more than "
                             f"max_time_patches={self.cfg.max_time_patches} (patch_size={self.cfg.patch_size}, "
                             f"sized for fs={self.cfg.fs} Hz): resample or crop the signal first")
        observed = observed.to(torch.bool)
        signal = normalize_input(signal, observed, self.cfg.input_norm)
        p = patchify(signal, observed, self.cfg.patch_size, self.cfg.min_observed_fraction)
        if self.cfg.token_encoder == "stem":
            shape = (signal.shape[0], signal.shape[1], n_time * self.cfg.patch_size)
            x = self.token_encoder(p.values.reshape(shape), p.sample_observed.reshape(shape))
        else:
            x = self.token_encoder(p.values, p.sample_observed)
        x = x + self.lead_embed(p.lead_ids) + self.time_embed(p.time_ids)
        return self.embed_drop(x), p.token_observed

    def encode_tokens(self, x: Tensor, token_observed: Tensor, keep_log: Tensor | None = None) -> Tensor:
        """Run the transformer; ``keep_log = log(1 - g)`` (N, M) softly removes tokens."""
        if keep_log is not None:
            x = x * keep_log.exp().unsqueeze(-1).to(x.dtype)
        bias = key_bias(token_observed, keep_log)
        for block in self.blocks:
            x = block(x, bias)
        return self.norm(x)

    def pool(self, tokens: Tensor, token_observed: Tensor, keep_log: Tensor | None = None) -> Tensor:
        """Mean over observed tokens (weighted by ``1 - g`` when ``keep_log`` is given); zeros if none."""
        return masked_softmax_pool(tokens, token_observed, None, keep_log)

    def forward(self, signal: Tensor, observed: Tensor) -> EncoderOutput:
        """``signal`` (N, 12, T) float and ``observed`` (N, 12, T) bool -> :class:`EncoderOutput`."""
        x, token_observed = self.embed_tokens(signal, observed)
        tokens = self.encode_tokens(x, token_observed)
        return EncoderOutput(tokens, token_observed, self.pool(tokens, token_observed))
