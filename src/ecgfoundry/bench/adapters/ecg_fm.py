"""ECG-FM (McKeen et al., "ECG-FM: An Open Electrocardiogram Foundation Model", arXiv 2408.05178):
a wav2vec 2.0-style ECG transformer from fairseq-signals, pretrained with W2V + CMSC + RLM.

Architecture facts (plain PyTorch here; module names = fairseq-signals checkpoint keys)
--------------------------------------------------------------------------------------
* ``ECGTransformerModel`` (Jwoo5/fairseq-signals ``fairseq_signals/models/ecg_transformer.py``):
  ``feature_extractor`` = ``ConvFeatureExtraction`` over ``conv_feature_layers = "[(256, 2, 2)] *
  4"`` with ``in_d = 12`` input channels, ``extractor_mode = "default"`` (group norm with one group
  per channel after the first conv only), no conv bias, GELU
  (``modules/conv_feature_extraction.py``); ``layer_norm`` over the 256 features;
  ``post_extract_proj`` = Linear(256, 768); ``conv_pos`` = weight-normalised (``dim=2``) Conv1d(768,
  768, k=128, groups=16, padding 64) -> drop last sample (``SamePad``) -> GELU, *added* to the
  features (``modules/conv_positional_encoding.py``); ``encoder`` = ``TransformerEncoder``:
  LayerNorm first (post-LN layers, ``layer_norm_first=False``), 12 layers of fairseq multi-head
  attention (``q_proj``/``k_proj``/``v_proj``/``out_proj``) -> residual -> ``self_attn_layer_norm``
  -> ``fc1`` (3072) GELU ``fc2`` -> residual -> ``final_layer_norm``
  (``modules/transformer_encoder.py``, ``transformer_encoder_layer.py``).
* Sizes of the public checkpoint: BERT-Base (768 / 12 layers / 12 heads / 3072 FFN); pretraining
  heads ``quantize_targets: true``, ``final_dim: 256`` (``examples/w2v_cmsc/config/pretraining/
  w2v_cmsc_rlm.yaml``), i.e. a Gumbel quantizer (2 groups x 320 vars), ``project_q``, ``final_proj``
  and ``mask_emb`` (``models/wav2vec2/wav2vec2.py``). Built with those heads the model has
  **90,883,072** parameters, the number bowang-lab/ECG-FM ``README.md`` gives for the public model.
* Tokens = transformer outputs, one per 16 input samples: 2500 samples -> **156 tokens x 768**.

Preprocessing contract (:meth:`ECGFMAdapter.preprocess`)
-------------------------------------------------------
The transforms of bowang-lab/ECG-FM ``notebooks/infer_quickstart.ipynb`` (``ReorderLeads``,
``LinearResample(500)``, ``HandleConstantLeads('zero')``, ``Standardize()``,
``SegmentNonoverlapping(2500)``), equal to fairseq-signals' preprocessing pipeline
(``fairseq_signals/data/ecg/preprocess/preprocess.py``: ``resample``, ``preprocess_mat``,
``lead_std_divide``, ``segment_mat``; ``--desired_sample_rate 500``, ``--segment_seconds 5``):

1. 12 leads in the order I, II, III, aVR, aVL, aVF, V1-V6 (``LEAD_ORDER`` / ``ECG_FM_LEAD_ORDER``)
   -- our canonical order.
2. Linear-interpolation resampling to 500 Hz, ``int(T * 500 / fs)`` samples
   (``resample``: ``interp1d(np.linspace(0, n-1, T), x)(np.arange(n))``).
3. Per-lead standardisation over the whole record (mean 0, std 1, population std); constant leads
   become 0 (``constant_lead_strategy='zero'``). Here statistics use observed samples only and
   unobserved samples stay 0 (ecgfoundry's :func:`~ecgfoundry.signals.normalize.zscore`), which
   for a complete record is the same thing.
4. No filtering (none in the pipeline; ``task.normalize: false`` in the pretraining config).
5. Non-overlapping 5 s segments of 2500 samples, ``T // 2500`` of them (a 10 s record gives 2);
   a record shorter than 5 s is zero-padded to one segment (an adaptation: the pipeline would drop
   it). With ``segments="all"`` (default) the tokens of a record's segments are concatenated in
   time order (``(N, S * 156, 768)``); ``segments="first"`` keeps the first segment only.

Weights: ``mimic_iv_ecg_physionet_pretrained.pt`` from https://huggingface.co/wanglab/ecg-fm
(fairseq checkpoint: the state dict under ``"model"``; its ``omegaconf`` config is skipped by the
restricted loader). Key filters: ``module.`` stripped; a fine-tuned checkpoint (keys
``encoder.feature_extractor.*``: the pretrained model wrapped as ``encoder`` beside a ``proj``
classifier) keeps only its ``encoder.*`` keys, unprefixed; pretraining heads (``quantizer.``,
``input_quantizer.``, ``project_q.``, ``project_inp.``, ``final_proj.``, ``target_glu.``,
``mask_emb``) and ``proj.`` dropped; legacy ``weight_g``/``weight_v`` renamed to
``parametrizations.weight.original0/1``; a legacy ``encoder.pos_conv.*`` positional conv is mapped
to ``conv_pos.pos_conv.*``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ecgfoundry.bench.adapters._base import EmbeddingAdapter
from ecgfoundry.bench.adapters._signal import as_numpy_batch, first_window, linear_resample
from ecgfoundry.bench.adapters._weights import (drop_keys, load_state_dict_file, load_strict,
                                                rename_weight_norm, strip_prefixes)
from ecgfoundry.signals.normalize import zscore

__all__ = ["ECGFMConfig", "ECG_FM", "ECG_FM_TINY", "ECGTransformer", "PretrainingHeads", "ECGFMAdapter",
           "create_ecg_fm", "ecg_fm_preprocess", "load_ecg_fm_state"]

SOURCE = "https://huggingface.co/wanglab/ecg-fm"
FS = 500.0
SEGMENT = 2500
_PRETRAIN_HEADS = ("quantizer.", "input_quantizer.", "project_q.", "project_inp.", "final_proj.", "target_glu.",
                   "mask_emb", "proj.")


@dataclass(frozen=True)
class ECGFMConfig:
    """fairseq-signals ``ECGTransformerConfig`` fields that shape the weights."""

    in_d: int = 12  # input channels (leads)
    conv_feature_layers: tuple[tuple[int, int, int], ...] = ((256, 2, 2),) * 4  # (dim, kernel, stride)
    encoder_layers: int = 12
    encoder_embed_dim: int = 768
    encoder_ffn_embed_dim: int = 3072
    encoder_attention_heads: int = 12
    conv_pos: int = 128  # kernel of the convolutional positional embedding
    conv_pos_groups: int = 16
    final_dim: int = 256  # pretraining heads only
    latent_vars: int = 320  # pretraining heads only (codebook entries per group)
    latent_groups: int = 2  # pretraining heads only

    def __post_init__(self):
        if self.encoder_embed_dim % self.encoder_attention_heads:
            raise ValueError("encoder_embed_dim must be a multiple of encoder_attention_heads")
        if self.encoder_embed_dim % self.conv_pos_groups:
            raise ValueError("encoder_embed_dim must be a multiple of conv_pos_groups")
        if self.final_dim % self.latent_groups:
            raise ValueError("final_dim must be a multiple of latent_groups")

    @property
    def stride(self) -> int:
        return math.prod(s for _, _, s in self.conv_feature_layers)


ECG_FM = ECGFMConfig()
ECG_FM_TINY = ECGFMConfig(conv_feature_layers=((16, 2, 2),) * 4, encoder_layers=2, encoder_embed_dim=32,
                          encoder_ffn_embed_dim=64, encoder_attention_heads=4, conv_pos=16, conv_pos_groups=4,
                          final_dim=16, latent_vars=8)


class _ConvFeatures(nn.Module):
    """Strided conv stack; "default" mode: GroupNorm(dim, dim) after the first conv only."""

    def __init__(self, cfg: ECGFMConfig):
        super().__init__()
        layers, c_in = [], cfg.in_d
        for i, (dim, k, s) in enumerate(cfg.conv_feature_layers):
            parts = [nn.Conv1d(c_in, dim, k, stride=s, bias=False), nn.Dropout(0.0)]
            if i == 0:
                parts.append(nn.GroupNorm(dim, dim, affine=True))
            parts.append(nn.GELU())
            layers.append(nn.Sequential(*parts))
            c_in = dim
        self.conv_layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.conv_layers:
            x = layer(x)
        return x


class _PosConv(nn.Module):
    def __init__(self, cfg: ECGFMConfig):
        super().__init__()
        d = cfg.encoder_embed_dim
        conv = nn.Conv1d(d, d, cfg.conv_pos, padding=cfg.conv_pos // 2, groups=cfg.conv_pos_groups)
        nn.init.normal_(conv.weight, 0.0, math.sqrt(4.0 / (cfg.conv_pos * d)))
        nn.init.zeros_(conv.bias)
        self.pos_conv = nn.Sequential(nn.utils.parametrizations.weight_norm(conv, name="weight", dim=2))
        self.remove = 1 if cfg.conv_pos % 2 == 0 else 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (n, T, D)
        y = self.pos_conv(x.transpose(1, 2))
        if self.remove:
            y = y[..., : -self.remove]
        return F.gelu(y).transpose(1, 2)


class _Attention(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.k_proj, self.v_proj, self.q_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        q, k, v = (p(x).view(n, t, self.heads, d // self.heads).transpose(1, 2)
                   for p in (self.q_proj, self.k_proj, self.v_proj))
        out = F.scaled_dot_product_attention(q, k, v)
        return self.out_proj(out.transpose(1, 2).reshape(n, t, d))


class _Layer(nn.Module):
    """Post-LN fairseq ``TransformerEncoderLayer`` (``layer_norm_first=False``)."""

    def __init__(self, cfg: ECGFMConfig):
        super().__init__()
        d = cfg.encoder_embed_dim
        self.self_attn = _Attention(d, cfg.encoder_attention_heads)
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, cfg.encoder_ffn_embed_dim)
        self.fc2 = nn.Linear(cfg.encoder_ffn_embed_dim, d)
        self.final_layer_norm = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.self_attn_layer_norm(x + self.self_attn(x))
        return self.final_layer_norm(x + self.fc2(F.gelu(self.fc1(x))))


class _Encoder(nn.Module):
    def __init__(self, cfg: ECGFMConfig):
        super().__init__()
        self.layers = nn.ModuleList(_Layer(cfg) for _ in range(cfg.encoder_layers))
        self.layer_norm = nn.LayerNorm(cfg.encoder_embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer_norm(x)
        for layer in self.layers:
            x = layer(x)
        return x


class ECGTransformer(nn.Module):
    """fairseq-signals ``ECGTransformerModel`` (inference path): ``(n, 12, T)`` -> ``(n, T/16, 768)``."""

    def __init__(self, cfg: ECGFMConfig = ECG_FM):
        super().__init__()
        self.cfg = cfg
        embed = cfg.conv_feature_layers[-1][0]
        self.feature_extractor = _ConvFeatures(cfg)
        self.layer_norm = nn.LayerNorm(embed)
        self.post_extract_proj = nn.Linear(embed, cfg.encoder_embed_dim) if embed != cfg.encoder_embed_dim else None
        self.conv_pos = _PosConv(cfg)
        self.encoder = _Encoder(cfg)

    def forward(self, source: torch.Tensor) -> torch.Tensor:
        x = self.layer_norm(self.feature_extractor(source).transpose(1, 2))
        if self.post_extract_proj is not None:
            x = self.post_extract_proj(x)
        x = x + self.conv_pos(x)
        return self.encoder(x)


class PretrainingHeads(nn.Module):
    """The wav2vec 2.0 pretraining modules stored beside the encoder (weights only; never run here).

    Built only to check a full pretraining checkpoint's key names and parameter count
    (``Wav2Vec2Model.__init__``: ``GumbelVectorQuantizer`` ``vars`` + ``weight_proj``, ``project_q``,
    ``final_proj``, ``mask_emb``).
    """

    def __init__(self, cfg: ECGFMConfig = ECG_FM):
        super().__init__()
        embed = cfg.conv_feature_layers[-1][0]
        g, v = cfg.latent_groups, cfg.latent_vars
        self.quantizer = nn.Module()
        self.quantizer.vars = nn.Parameter(torch.zeros(1, g * v, cfg.final_dim // g))
        self.quantizer.weight_proj = nn.Linear(embed, g * v)
        self.project_q = nn.Linear(cfg.final_dim, cfg.final_dim)
        self.final_proj = nn.Linear(cfg.encoder_embed_dim, cfg.final_dim)
        self.mask_emb = nn.Parameter(torch.zeros(cfg.encoder_embed_dim))


def load_ecg_fm_state(weights) -> dict[str, torch.Tensor]:
    """Read a fairseq-signals checkpoint and filter it to :class:`ECGTransformer` key names."""
    state = load_state_dict_file(weights, model="ECG-FM", filename="mimic_iv_ecg_physionet_pretrained.pt",
                                 source=SOURCE, containers=("model", "state_dict", "model_state_dict"))
    state = strip_prefixes(state, ("module.",))
    if any(k.startswith("encoder.feature_extractor.") for k in state):
        # a fine-tuned model (ECGTransformerClassificationModel): the pretrained encoder sits under
        # "encoder.", the classifier ("proj.") beside it
        state = {k[len("encoder."):]: v for k, v in state.items() if k.startswith("encoder.")}
    state = {k.replace("encoder.pos_conv.", "conv_pos.pos_conv."): v for k, v in state.items()}
    return rename_weight_norm(drop_keys(state, _PRETRAIN_HEADS))


def ecg_fm_preprocess(batch) -> tuple[torch.Tensor, int]:
    """Canonical batch -> ``(N * S, 12, 2500)`` float32 segments and ``S`` (segments per record)."""
    signal, observed, fs = as_numpy_batch(batch)
    x, obs = linear_resample(signal, observed, int(signal.shape[-1] * FS / fs))
    x, obs = zscore(x, obs)
    n_seg = max(1, x.shape[-1] // SEGMENT)
    x, obs = first_window(x.astype(np.float64), obs, n_seg * SEGMENT)
    n = x.shape[0]
    segs = x.reshape(n, 12, n_seg, SEGMENT).transpose(0, 2, 1, 3).reshape(n * n_seg, 12, SEGMENT)
    return torch.from_numpy(np.ascontiguousarray(segs, dtype=np.float32)), n_seg


class ECGFMAdapter(EmbeddingAdapter):
    """ECG-FM embeddings: tokens ``(N, S * 156, 768)`` (``segments="all"``) or ``(N, 156, 768)``."""

    name = "ecg-fm"
    native_fs = FS
    native_seconds = 10.0  # 500 Hz; the adapter cuts 5-s segments out of the 10-s record

    def __init__(self, model: ECGTransformer, *, segments: str = "all", **kw):
        if segments not in ("all", "first"):
            raise ValueError(f"segments must be 'all' or 'first', got {segments!r}")
        super().__init__(model, **kw)
        self.segments = segments
        self._n_seg = 1

    def preprocess(self, batch) -> torch.Tensor:
        x, n_seg = ecg_fm_preprocess(batch)
        if self.segments == "first":
            x, n_seg = x[::n_seg], 1
        self._n_seg = n_seg
        return x

    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def postprocess(self, tokens: torch.Tensor, n_records: int) -> torch.Tensor:
        return tokens.reshape(n_records, self._n_seg * tokens.shape[1], tokens.shape[2])


def create_ecg_fm(weights=None, *, cfg: ECGFMConfig = ECG_FM, pretrained: bool = True, **kw) -> ECGFMAdapter:
    """Build the adapter; ``pretrained=False`` keeps random weights (tests, smoke runs)."""
    state = load_ecg_fm_state(weights) if pretrained else None  # fail fast, before building
    model = ECGTransformer(cfg)
    if state is not None:
        load_strict(model, state, what="ECG-FM")
    return ECGFMAdapter(model, **kw)
