"""ECG-JEPA (Kim, "ECG-JEPA: Learning General Representation of 12-Lead Electrocardiogram With a
Joint-Embedding Predictive Architecture", arXiv 2410.08559): a ViT over lead x time patches with
cross-pattern attention (CroPA), pretrained as a JEPA.

Architecture facts (plain PyTorch here; module names = checkpoint keys)
----------------------------------------------------------------------
* The released encoder is ``ecg_jepa(encoder_embed_dim=768, encoder_depth=12, encoder_num_heads=16,
  predictor_embed_dim=384, predictor_depth=6, predictor_num_heads=12, c=8, pos_type='sincos',
  mask_scale=(0, 0)).encoder`` loaded from ``ckpt['encoder']`` (``load_encoder`` in
  sehunfromdaegu/ECG_JEPA ``models.py``), a ``MaskTransformer`` (``ecg_jepa.py``) with p = 50 patches
  of t = 50 samples per lead, mlp_ratio 4, ``qkv_bias=False`` (the default).
* ``MaskTransformer``: ``W_P`` = Linear(50, 768) per patch; ``pos_embed`` = a frozen 2-D sin-cos
  table of shape (c * p, 768) (lead x patch grid, ``get_2d_sincos_pos_embed(embed_dim, c, p)``),
  stored in the state dict as a ``Parameter`` and **added before every block** (``Encoder_Block``:
  ``x = block(x + pos, attention_mask)``); pre-LN blocks ``encoder_blocks.blocks.{i}`` (``norm1``,
  ``attn.qkv`` (no bias), ``attn.proj``, ``norm2``, ``mlp.fc1``/``fc2`` GELU); the attention mask
  lets a token see the tokens of its own lead and the tokens at its own time step in the other
  leads (``_cross_attention_mask``); final ``norm``. ``representation()`` averages the normed
  tokens; here the tokens themselves are returned: **(N, 400, 768)**, lead-major (lead 0 patches
  0..49, then lead 1, ...).
* The 2-D sin-cos table is re-created MAE-style for randomly initialised models (the I-JEPA / MAE
  ``get_2d_sincos_pos_embed`` construction); for released weights it is loaded from the checkpoint,
  so its formula does not matter there.

Preprocessing contract (:meth:`ECGJEPAAdapter.preprocess`)
---------------------------------------------------------
1. Resampling to 500 Hz with ``scipy.signal.resample`` (FFT), ``int(500 / fs * T)`` samples, when
   the record is not at 500 Hz (``get_ecg_data`` in ``ecg_data.py``).
2. First 5000 samples = 10 s (``segment_length = 5000``, ``ecg_data[:segment_length]``); shorter
   records are zero-padded at the end (an adaptation: the authors drop them).
3. ``scipy.signal.resample(wave, 2500, axis=1)``: 10 s at 250 Hz (``downsample_waves`` /
   ``waves_ptbxl(..., downsample=True)``, ``ecg_data.py``; ``representation`` asserts 2500 samples).
4. Eight leads I, II, V1, V2, V3, V4, V5, V6 (``reduced_lead``: ``concatenate([data[:, :2],
   data[:, 6:]])``, ``ecg_data.py``).
5. No filtering and no amplitude normalisation: millivolts as read from the files (PTB-XL's
   ``load_dataset`` returns physical units; nothing rescales them in ``ecg_data.py`` or
   ``pretrain_ECG_JEPA.py``).
6. Each lead cut into 50 patches of 50 samples (``x.reshape(bs, -1, 50)``).

Weights: ``multiblock_epoch100.pth`` (or ``random_epoch100.pth``) linked from the README of
https://github.com/sehunfromdaegu/ECG_JEPA (Google Drive), a ``torch.save`` of ``{"encoder":
state_dict, "epoch": ...}``; ``module.`` prefixes are stripped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ecgfoundry.bench.adapters._base import EmbeddingAdapter
from ecgfoundry.bench.adapters._signal import as_numpy_batch, fft_resample, first_window
from ecgfoundry.bench.adapters._weights import load_state_dict_file, load_strict, strip_prefixes

__all__ = ["ECGJEPAConfig", "ECG_JEPA", "ECG_JEPA_TINY", "ECGJEPAEncoder", "ECGJEPAAdapter", "create_ecg_jepa",
           "ecg_jepa_preprocess", "ECG_JEPA_LEADS", "cross_attention_mask", "sincos_2d"]

SOURCE = "the README of https://github.com/sehunfromdaegu/ECG_JEPA (Google Drive link)"
ECG_JEPA_LEADS: tuple[int, ...] = (0, 1, 6, 7, 8, 9, 10, 11)  # I, II, V1-V6 in canonical order
FS_SOURCE = 500.0
N_SOURCE = 5000
N_MODEL = 2500


@dataclass(frozen=True)
class ECGJEPAConfig:
    """Shape of the ``MaskTransformer`` encoder."""

    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 16
    mlp_ratio: float = 4.0
    qkv_bias: bool = False
    c: int = 8  # leads
    p: int = 50  # patches per lead
    t: int = 50  # samples per patch

    def __post_init__(self):
        if self.embed_dim % self.num_heads or self.embed_dim % 4:
            raise ValueError("embed_dim must be a multiple of num_heads and of 4 (2-D sin-cos table)")


ECG_JEPA = ECGJEPAConfig()
ECG_JEPA_TINY = ECGJEPAConfig(embed_dim=32, depth=2, num_heads=4)


def sincos_2d(dim: int, rows: int, cols: int) -> torch.Tensor:
    """MAE-style 2-D sin-cos table ``(rows * cols, dim)``: half the channels encode the column
    (time patch), half the row (lead); row-major token order."""
    def one_d(d, pos):
        omega = 1.0 / 10000 ** (np.arange(d // 2, dtype=np.float64) / (d / 2.0))
        out = np.outer(pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    gw, gh = np.meshgrid(np.arange(cols, dtype=np.float64), np.arange(rows, dtype=np.float64))
    table = np.concatenate([one_d(dim // 2, gw), one_d(dim // 2, gh)], axis=1)
    return torch.from_numpy(table).float()


def cross_attention_mask(c: int, p: int) -> torch.Tensor:
    """Bool ``(c*p, c*p)``: token (lead a, patch i) may attend to (lead b, patch j) iff a == b or i == j."""
    lead = torch.arange(c).repeat_interleave(p)
    patch = torch.arange(p).repeat(c)
    return (lead[:, None] == lead[None, :]) | (patch[:, None] == patch[None, :])


class _Mlp(nn.Module):
    def __init__(self, d: int, hidden: int):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d, hidden), nn.Linear(hidden, d)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class _Attention(nn.Module):
    def __init__(self, d: int, heads: int, qkv_bias: bool):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d, bias=qkv_bias)
        self.proj = nn.Linear(d, d)

    def forward(self, x, mask):
        n, t, d = x.shape
        q, k, v = self.qkv(x).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.proj(out.transpose(1, 2).reshape(n, t, d))


class _Block(nn.Module):
    def __init__(self, cfg: ECGJEPAConfig):
        super().__init__()
        d = cfg.embed_dim
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = _Attention(d, cfg.num_heads, cfg.qkv_bias)
        self.mlp = _Mlp(d, int(d * cfg.mlp_ratio))

    def forward(self, x, mask):
        x = x + self.attn(self.norm1(x), mask)
        return x + self.mlp(self.norm2(x))


class _Blocks(nn.Module):
    def __init__(self, cfg: ECGJEPAConfig):
        super().__init__()
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.depth))


class ECGJEPAEncoder(nn.Module):
    """ECG-JEPA's ``MaskTransformer`` (no masking): ``(n, c, p*t)`` -> tokens ``(n, c*p, embed_dim)``."""

    def __init__(self, cfg: ECGJEPAConfig = ECG_JEPA):
        super().__init__()
        self.cfg = cfg
        self.encoder_blocks = _Blocks(cfg)
        self.norm = nn.LayerNorm(cfg.embed_dim)
        self.W_P = nn.Linear(cfg.t, cfg.embed_dim)
        self.pos_embed = nn.Parameter(sincos_2d(cfg.embed_dim, cfg.c, cfg.p), requires_grad=False)
        self.register_buffer("attn_mask", cross_attention_mask(cfg.c, cfg.p), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, length = x.shape
        if c != self.cfg.c or length != self.cfg.p * self.cfg.t:
            raise ValueError(f"expected (n, {self.cfg.c}, {self.cfg.p * self.cfg.t}), got {tuple(x.shape)}")
        h = self.W_P(x.reshape(n, c * self.cfg.p, self.cfg.t))
        for block in self.encoder_blocks.blocks:
            h = block(h + self.pos_embed, self.attn_mask)
        return self.norm(h)


def ecg_jepa_preprocess(batch) -> torch.Tensor:
    """Canonical batch -> ECG-JEPA input ``(N, 8, 2500)`` float32 (see module docstring)."""
    signal, observed, fs = as_numpy_batch(batch)
    signal, observed = signal[:, list(ECG_JEPA_LEADS)], observed[:, list(ECG_JEPA_LEADS)]
    if fs != FS_SOURCE:
        signal, observed = fft_resample(signal, observed, int(FS_SOURCE / fs * signal.shape[-1]))
    x, obs = first_window(signal, observed, N_SOURCE)
    x, _ = fft_resample(x, obs, N_MODEL)
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


class ECGJEPAAdapter(EmbeddingAdapter):
    """ECG-JEPA embeddings: tokens ``(N, 400, 768)`` (8 leads x 50 patches, lead-major)."""

    name = "ecg-jepa"
    native_fs = FS_SOURCE
    native_seconds = N_SOURCE / FS_SOURCE  # 10 s at 500 Hz, then FFT-resampled to 250 Hz

    def preprocess(self, batch) -> torch.Tensor:
        return ecg_jepa_preprocess(batch)

    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def load_ecg_jepa_state(weights, filename: str = "multiblock_epoch100.pth") -> dict[str, torch.Tensor]:
    """Read an ECG-JEPA checkpoint (``{"encoder": state_dict, ...}`` or a bare state dict)."""
    state = load_state_dict_file(weights, model="ECG-JEPA", filename=filename, source=SOURCE,
                                 containers=("encoder", "state_dict", "model"))
    return strip_prefixes(state, ("module.",))


def create_ecg_jepa(weights=None, *, cfg: ECGJEPAConfig = ECG_JEPA, pretrained: bool = True, **kw) -> ECGJEPAAdapter:
    """Build the adapter; ``pretrained=False`` keeps random weights (tests, smoke runs)."""
    state = load_ecg_jepa_state(weights) if pretrained else None  # fail fast, before building
    model = ECGJEPAEncoder(cfg)
    if state is not None:
        load_strict(model, state, what="ECG-JEPA")
    return ECGJEPAAdapter(model, **kw)
