"""1-D ResNet ECG encoders in the ECGCLIP / MERL style.

A ResNet-18/34 with 1-D convolutions over time (the 12 leads are input channels, plus 12 channels
of the observed mask by default): a first convolution with kernel 7 and stride 2, max pooling,
stages of BasicBlocks, and attention pooling of the final time steps (CLIP's attention pool with
the mean token as query), as in MERL (Liu et al., "Zero-shot ECG Classification with Multimodal
Learning and Test-time Clinical Knowledge Enhancement", ICML 2024) and the ResNet baselines of
ECG–text pretraining.

Tokens are the time steps of the last stage (stride ``4 * 2**(stages - 1)`` samples). A token is
observed iff any sample of any lead within its stride window is observed (the observed mask
max-pooled with the total stride); a record with no observed sample has no observed token and
pools to zeros.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ecgfoundry.models.config import EncoderConfig
from ecgfoundry.models.encoder_output import EncoderOutput
from ecgfoundry.models.input_norm import normalize_input
from ecgfoundry.models.selector import masked_softmax_pool, masked_softmax_weights

__all__ = ["BasicBlock1d", "AttentionPool1d", "ResNet1dEncoder"]


class BasicBlock1d(nn.Module):
    """conv3-BN-ReLU-conv3-BN plus a (projected) shortcut, ReLU (He et al. 2016)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv1d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm1d(out_ch)
        self.conv2 = nn.Conv1d(out_ch, out_ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm1d(out_ch)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(nn.Conv1d(in_ch, out_ch, 1, stride=stride, bias=False),
                                          nn.BatchNorm1d(out_ch))

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class AttentionPool1d(nn.Module):
    """Attention pooling over time steps (CLIP's AttentionPool2d in 1-D): the (masked) mean token
    queries all observed tokens; ``keep_log`` (N, M) is added to the attention logits."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, tokens: Tensor, token_observed: Tensor, keep_log: Tensor | None = None) -> Tensor:
        n, m, d = tokens.shape
        h = self.heads
        mean = masked_softmax_pool(tokens, token_observed, None, keep_log)  # (N, D)
        q = self.q(mean).reshape(n, h, 1, d // h)
        k, v = self.kv(tokens).reshape(n, m, 2, h, d // h).permute(2, 0, 3, 1, 4)
        logits = (q @ k.transpose(-1, -2)).squeeze(2) / (d // h) ** 0.5  # (N, H, M)
        alpha = masked_softmax_weights(token_observed.unsqueeze(1).expand(n, h, m), logits,
                                       None if keep_log is None else keep_log.unsqueeze(1).expand(n, h, m))
        out = (alpha.unsqueeze(-1).to(v.dtype) * v).sum(2).reshape(n, d)
        has_any = alpha.sum(-1)[:, :1].to(out.dtype)  # 1 where some token is valid, else 0
        return self.proj(out) * has_any


class ResNet1dEncoder(nn.Module):
    """1-D ResNet over time; tokens are the time steps of the last stage.

    Parameters
    ----------
    cfg : EncoderConfig
        ``kind="resnet1d"``; uses ``resnet_layers``, ``resnet_widths``, ``resnet_observed_channels``,
        ``pool_heads``, ``n_leads``. ResNet-18 is layers (2, 2, 2, 2), ResNet-34 (3, 4, 6, 3), with
        widths (64, 128, 256, 512).
    """

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        if cfg.kind != "resnet1d":
            raise ValueError(f"ResNet1dEncoder needs kind='resnet1d', got {cfg.kind!r}")
        self.cfg = cfg
        in_ch = cfg.n_leads * (2 if cfg.resnet_observed_channels else 1)
        w0 = cfg.resnet_widths[0]
        self.stem = nn.Sequential(nn.Conv1d(in_ch, w0, 7, stride=2, padding=3, bias=False),
                                  nn.BatchNorm1d(w0), nn.ReLU(inplace=True),
                                  nn.MaxPool1d(3, stride=2, padding=1))
        stages, prev = [], w0
        for i, (n_blocks, width) in enumerate(zip(cfg.resnet_layers, cfg.resnet_widths)):
            blocks = [BasicBlock1d(prev, width, stride=1 if i == 0 else 2)]
            blocks += [BasicBlock1d(width, width) for _ in range(n_blocks - 1)]
            stages.append(nn.Sequential(*blocks))
            prev = width
        self.stages = nn.Sequential(*stages)
        self.attn_pool = AttentionPool1d(prev, cfg.pool_heads) if cfg.resnet_pool == "attention" else None
        for mod in self.modules():
            if isinstance(mod, nn.Conv1d):
                nn.init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="relu")

    @property
    def dim(self) -> int:
        return self.cfg.resnet_widths[-1]

    @property
    def stride(self) -> int:
        """Samples per output time step."""
        return 4 * 2 ** (len(self.cfg.resnet_layers) - 1)

    def n_tokens(self, n_samples: int) -> int:
        return -(-int(n_samples) // self.stride)

    def embed_tokens(self, signal: Tensor, observed: Tensor) -> tuple[Tensor, Tensor]:
        """Convolutional trunk: ``x`` (N, M, D) time-step features and ``token_observed`` (N, M)."""
        if signal.shape[1] != self.cfg.n_leads:
            raise ValueError(f"signal has {signal.shape[1]} leads, the encoder expects {self.cfg.n_leads}")
        observed = observed.to(torch.bool)
        x = normalize_input(signal, observed, self.cfg.input_norm)
        if self.cfg.resnet_observed_channels:
            x = torch.cat([x, observed.to(x.dtype)], dim=1)
        feats = self.stages(self.stem(x)).transpose(1, 2)  # (N, M, D)
        any_obs = observed.any(dim=1, keepdim=True).to(torch.float32)  # (N, 1, T)
        tok_obs = F.max_pool1d(any_obs, self.stride, self.stride, ceil_mode=True)[:, 0] > 0
        m = feats.shape[1]
        if tok_obs.shape[1] < m:  # cannot happen with the standard strides; keep shapes safe anyway
            tok_obs = F.pad(tok_obs, (0, m - tok_obs.shape[1]), value=False)
        return feats, tok_obs[:, :m]

    def encode_tokens(self, x: Tensor, token_observed: Tensor, keep_log: Tensor | None = None) -> Tensor:
        """Removal after the trunk: ``h_hat = (1 - g) h`` (no further contextualisation)."""
        if keep_log is None:
            return x
        return x * keep_log.exp().unsqueeze(-1).to(x.dtype)

    def pool(self, tokens: Tensor, token_observed: Tensor, keep_log: Tensor | None = None) -> Tensor:
        """Attention pooling (``resnet_pool="attention"``) or the mean weighted by ``1 - g``
        (``"mean"``) over observed (un-removed) tokens; zeros when there are none."""
        if self.attn_pool is None:
            return masked_softmax_pool(tokens, token_observed, None, keep_log)
        return self.attn_pool(tokens, token_observed, keep_log)

    def forward(self, signal: Tensor, observed: Tensor) -> EncoderOutput:
        """``signal`` (N, 12, T) float and ``observed`` (N, 12, T) bool -> :class:`EncoderOutput`."""
        x, token_observed = self.embed_tokens(signal, observed)
        tokens = self.encode_tokens(x, token_observed)
        return EncoderOutput(tokens, token_observed, self.pool(tokens, token_observed))
