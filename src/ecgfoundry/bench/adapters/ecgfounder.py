"""ECGFounder (Li et al., "An Electrocardiogram Foundation Model Built on over 10 Million Recordings",
NEJM AI 2025, arXiv 2410.04133): a RegNet-style 1-D CNN (``Net1D``) trained on HEEDB with 150 labels.

Architecture facts (rebuilt here in plain PyTorch; the module names match the checkpoint keys)
-------------------------------------------------------------------------------------------
* ``Net1D(in_channels=12, base_filters=64, ratio=1, filter_list=[64,160,160,400,400,1024,1024],
  m_blocks_list=[2,2,2,3,3,4,4], kernel_size=16, stride=2, groups_width=16, use_bn=False,
  use_do=False, n_classes=150)`` -- PKUDigitalHealth/ECGFounder ``finetune_model.py``
  (``ft_ECGFounder``); 150 classes from the released label list (SCXsunchenxi/ECGFounder_for_YODA
  ``README.md``, "150 ECG Classes").
* Blocks (``net1d.py`` of the same codebase, e.g. Verma-Lab/ECGFounder-ukb ``net1d.py``):
  "same"-padded convs (``MyConv1dPadSame``: pad ``max(0, (ceil(L/s)-1)*s + k - L)``, left half
  first); first conv (k=16, stride 2) -> BN (unused when ``use_bn=False``) -> Swish; each stage's
  first block downsamples (stride 2 in the grouped k-conv, max-pool ``kernel=stride`` with
  "same" zero padding on the identity); bottleneck conv1 -> conv_k (groups = channels / 16) ->
  conv1, with BN + Swish before each conv (skipped before conv1 of the very first block);
  squeeze-and-excitation (mean over time -> Linear(C, C/2) -> Swish -> Linear -> sigmoid);
  channel growth zero-pads the identity symmetrically; ``dense = Linear(1024, 150)``.
  BatchNorm layers exist in the state dict even though ``use_bn=False`` skips them.
* Tokens = the last stage's feature map, one token per time step: 5000 samples -> 2500 (first conv)
  -> 7 stride-2 stages -> **20 tokens of 1024 dims**. (The published model mean-pools them into
  ``dense``; pooling is the benchmark's job here.)

Preprocessing contract (:meth:`ECGFounderAdapter.preprocess`)
------------------------------------------------------------
1. Lead order I, II, III, aVR, aVL, aVF, V1-V6 (``new_leads`` in ECGFounder ``dataset.py``) -- our
   canonical order; the 1-lead model takes lead I (``ECG_H5_1lead_*`` datasets,
   ECGFounder_for_YODA ``dataset_h5.py``).
2. Missing values as 0 (``np.nan_to_num(data, nan=0)``, ``dataset.py``); ours already are.
3. Filtering at the record's own rate, before resampling (``filter_bandpass`` in ECGFounder
   ``util.py``, called first in ECGFounder_for_YODA ``dataset_h5.py``; the README asks users to
   "strictly follow ... filtering, z-score normalization"): IIR notch at 50 Hz, Q = 30
   (``iirnotch(50, 30, fs)``, ``filtfilt``); Butterworth band-pass order 4, 0.67-40 Hz
   (``butter(N=4, Wn=[0.67, 40], btype='bandpass', fs=fs)``, ``filtfilt``); baseline removal by
   subtracting a median filter of ``int(0.4*fs)+1`` samples (made odd). *Adaptation:* the notch is
   skipped when 50 Hz is not below the Nyquist rate (e.g. 100 Hz data, where no 50 Hz mains
   component can exist); records at or below 80 Hz are refused (the 40 Hz cut-off needs fs > 80).
4. Resampling to 500 Hz by linear interpolation over the record's time span, ``n_out =
   round(T * 500 / fs)`` (``_resample`` in ECGFounder_for_YODA ``dataset_h5.py``; the official
   MIMIC-IV-ECG datasets are already at 500 Hz and are not resampled).
5. First 5000 samples (10 s), zero-padded at the end when shorter (``_pad_or_crop``,
   ``TARGET_LENGTH = 5000``, ``dataset_h5.py``).
6. Z-score over the whole ``(leads, 5000)`` array at once, one mean and one std:
   ``(x - mean) / (std + 1e-8)`` (``z_score_normalization`` in ``dataset.py``). As published, the
   statistics include zero-filled (unobserved or padded) samples, which therefore map to
   ``-mean/std``, not 0.

Weights: ``12_lead_ECGFounder.pth`` / ``1_lead_ECGFounder.pth`` from
https://huggingface.co/PKUDigitalHealth/ECGFounder, a ``torch.save`` of ``{"state_dict": ...}``
(ECGFounder ``finetune_model.py`` reads ``checkpoint['state_dict']``); ``module.`` prefixes are
stripped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ecgfoundry.bench.adapters._base import EmbeddingAdapter
from ecgfoundry.bench.adapters._signal import as_numpy_batch, first_window, linear_resample
from ecgfoundry.bench.adapters._weights import load_state_dict_file, load_strict, strip_prefixes

__all__ = ["Net1DConfig", "Net1D", "ECGFounderAdapter", "ECGFOUNDER_12LEAD", "ECGFOUNDER_1LEAD",
           "ECGFOUNDER_TINY", "create_ecgfounder", "ecgfounder_preprocess"]

SOURCE = "https://huggingface.co/PKUDigitalHealth/ECGFounder"
FS = 500.0
N_SAMPLES = 5000


@dataclass(frozen=True)
class Net1DConfig:
    """Hyper-parameters of ``Net1D`` (names as in the published constructor)."""

    in_channels: int = 12  # 12 leads, or 1 (lead I) for the single-lead model
    base_filters: int = 64  # channels of the first conv
    ratio: float = 1.0  # bottleneck width / block width
    filter_list: tuple[int, ...] = (64, 160, 160, 400, 400, 1024, 1024)  # width of each stage
    m_blocks_list: tuple[int, ...] = (2, 2, 2, 3, 3, 4, 4)  # blocks per stage
    kernel_size: int = 16  # kernel of the first conv and of every grouped conv
    stride: int = 2  # downsampling of each stage's first block (and of the first conv)
    groups_width: int = 16  # channels per group in the grouped conv
    n_classes: int = 150  # outputs of the (unused here) ``dense`` head
    se_reduction: int = 2  # squeeze-and-excitation bottleneck factor

    def __post_init__(self):
        if len(self.filter_list) != len(self.m_blocks_list):
            raise ValueError("filter_list and m_blocks_list must have the same length")
        if any(f % self.groups_width for f in self.filter_list):
            raise ValueError("every width in filter_list must be a multiple of groups_width")
        if self.in_channels < 1 or self.base_filters < 1 or self.n_classes < 1:
            raise ValueError("in_channels, base_filters and n_classes must be >= 1")


ECGFOUNDER_12LEAD = Net1DConfig()
ECGFOUNDER_1LEAD = Net1DConfig(in_channels=1)
ECGFOUNDER_TINY = Net1DConfig(base_filters=8, filter_list=(16, 32), m_blocks_list=(2, 1), kernel_size=5,
                              groups_width=8, n_classes=3)


class _SamePadConv(nn.Module):
    """Conv1d with TensorFlow-style "same" padding (output length ``ceil(L / stride)``)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1):
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.conv = nn.Conv1d(c_in, c_out, kernel, stride=stride, groups=groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[-1]
        out_len = (length + self.stride - 1) // self.stride
        pad = max(0, (out_len - 1) * self.stride + self.kernel - length)
        return self.conv(F.pad(x, (pad // 2, pad - pad // 2)))


class _SamePadMaxPool(nn.Module):
    """Max-pool (kernel = stride) after zero padding ``kernel - 1`` samples, left half first."""

    def __init__(self, kernel: int):
        super().__init__()
        self.kernel = kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = max(0, self.kernel - 1)
        return F.max_pool1d(F.pad(x, (pad // 2, pad - pad // 2)), self.kernel)


class _Block(nn.Module):
    """Bottleneck block: [BN] Swish conv1 -> [BN] Swish conv_k (grouped) -> [BN] Swish conv1 -> SE."""

    def __init__(self, c_in: int, c_out: int, cfg: Net1DConfig, groups: int, downsample: bool, first: bool):
        super().__init__()
        mid = int(c_out * cfg.ratio)
        self.c_in, self.c_out, self.downsample, self.first = c_in, c_out, downsample, first
        stride = cfg.stride if downsample else 1
        self.bn1 = nn.BatchNorm1d(c_in)  # present in the checkpoint; skipped (use_bn=False)
        self.conv1 = _SamePadConv(c_in, mid, 1)
        self.bn2 = nn.BatchNorm1d(mid)
        self.conv2 = _SamePadConv(mid, mid, cfg.kernel_size, stride=stride, groups=groups)
        self.bn3 = nn.BatchNorm1d(mid)
        self.conv3 = _SamePadConv(mid, c_out, 1)
        self.se_fc1 = nn.Linear(c_out, c_out // cfg.se_reduction)
        self.se_fc2 = nn.Linear(c_out // cfg.se_reduction, c_out)
        self.pool = _SamePadMaxPool(stride) if downsample else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x if self.first else F.silu(x)
        out = self.conv1(out)
        out = self.conv2(F.silu(out))
        out = self.conv3(F.silu(out))
        se = torch.sigmoid(self.se_fc2(F.silu(self.se_fc1(out.mean(-1)))))
        out = out * se.unsqueeze(-1)
        identity = self.pool(x) if self.pool is not None else x
        if self.c_out != self.c_in:
            extra = self.c_out - self.c_in
            identity = F.pad(identity.transpose(-1, -2), (extra // 2, extra - extra // 2)).transpose(-1, -2)
        return out + identity


class _Stage(nn.Module):
    def __init__(self, c_in: int, c_out: int, n_blocks: int, cfg: Net1DConfig, first_stage: bool):
        super().__init__()
        groups = c_out // cfg.groups_width
        self.block_list = nn.ModuleList(
            _Block(c_in if i == 0 else c_out, c_out, cfg, groups, downsample=(i == 0), first=first_stage and i == 0)
            for i in range(n_blocks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.block_list:
            x = block(x)
        return x


class Net1D(nn.Module):
    """ECGFounder's backbone; :meth:`forward_features` returns the last feature map ``(n, C, L)``.

    Parameters
    ----------
    cfg : Net1DConfig
    """

    def __init__(self, cfg: Net1DConfig = ECGFOUNDER_12LEAD):
        super().__init__()
        self.cfg = cfg
        self.first_conv = _SamePadConv(cfg.in_channels, cfg.base_filters, cfg.kernel_size, stride=2)
        self.first_bn = nn.BatchNorm1d(cfg.base_filters)  # present in the checkpoint; skipped
        stages, c_in = [], cfg.base_filters
        for i, (c_out, n) in enumerate(zip(cfg.filter_list, cfg.m_blocks_list)):
            stages.append(_Stage(c_in, c_out, n, cfg, first_stage=(i == 0)))
            c_in = c_out
        self.stage_list = nn.ModuleList(stages)
        self.dense = nn.Linear(c_in, cfg.n_classes)

    @property
    def out_dim(self) -> int:
        return self.cfg.filter_list[-1]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``x (n, in_channels, T)`` -> feature map ``(n, filter_list[-1], ceil(T / 2**(1+stages)))``."""
        out = F.silu(self.first_conv(x))
        for stage in self.stage_list:
            out = stage(out)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(n, n_classes)`` from the time-averaged features, as published."""
        return self.dense(self.forward_features(x).mean(-1))


def _median_baseline(x: np.ndarray, kernel: int) -> np.ndarray:
    """``scipy.signal.medfilt`` along the last axis (zero-padded edges), for many rows at once."""
    from scipy.ndimage import median_filter

    size = [1] * x.ndim
    size[-1] = kernel
    return median_filter(x, size=tuple(size), mode="constant", cval=0.0)


def ecgfounder_filter(signal: np.ndarray, fs: float) -> np.ndarray:
    """ECGFounder's ``filter_bandpass``: 50 Hz notch, 0.67-40 Hz band-pass, median baseline removal."""
    from scipy.signal import butter, filtfilt, iirnotch

    if fs <= 80.0:
        raise ValueError(f"ECGFounder's 0.67-40 Hz band-pass needs fs > 80 Hz, got {fs} Hz")
    x = signal
    if 50.0 < fs / 2:
        b, a = iirnotch(50.0, 30.0, fs)
        x = filtfilt(b, a, x, axis=-1)
    b, a = butter(N=4, Wn=[0.67, 40.0], btype="bandpass", fs=fs)
    x = filtfilt(b, a, x, axis=-1)
    kernel = int(0.4 * fs) + 1
    kernel += 1 - kernel % 2  # odd
    return x - _median_baseline(x, kernel)


def ecgfounder_preprocess(batch, leads: tuple[int, ...] = tuple(range(12))) -> torch.Tensor:
    """Canonical batch -> ECGFounder input ``(N, len(leads), 5000)`` float32 (see module docstring)."""
    signal, observed, fs = as_numpy_batch(batch)
    signal, observed = signal[:, list(leads)], observed[:, list(leads)]
    x = ecgfounder_filter(signal, fs)
    x = np.where(observed, x, 0.0)
    n_out = int(round(x.shape[-1] * FS / fs))
    x, observed = linear_resample(x, observed, n_out)
    x, observed = first_window(x, observed, N_SAMPLES)
    mean = x.mean(axis=(-2, -1), keepdims=True)
    std = x.std(axis=(-2, -1), keepdims=True)
    return torch.from_numpy(((x - mean) / (std + 1e-8)).astype(np.float32))


class ECGFounderAdapter(EmbeddingAdapter):
    """ECGFounder embeddings: tokens ``(N, 20, 1024)`` (time steps of the last feature map)."""

    name = "ecgfounder"
    native_fs = FS
    native_seconds = N_SAMPLES / FS  # 10 s at 500 Hz

    def __init__(self, model: Net1D, *, leads: tuple[int, ...] = tuple(range(12)), **kw):
        if len(leads) != model.cfg.in_channels:
            raise ValueError(f"model takes {model.cfg.in_channels} leads, got {len(leads)}")
        super().__init__(model, **kw)
        self.leads = tuple(leads)

    def preprocess(self, batch) -> torch.Tensor:
        return ecgfounder_preprocess(batch, self.leads)

    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_features(x).transpose(1, 2)


def load_ecgfounder_state(path, *, filename: str = "12_lead_ECGFounder.pth") -> dict[str, torch.Tensor]:
    """Read an ECGFounder checkpoint (safetensors, or ``torch.save`` of ``{"state_dict": ...}``)."""
    state = load_state_dict_file(path, model="ECGFounder", filename=filename, source=SOURCE)
    return strip_prefixes(state, ("module.",))


def create_ecgfounder(weights=None, *, cfg: Net1DConfig = ECGFOUNDER_12LEAD, pretrained: bool = True,
                      **kw) -> ECGFounderAdapter:
    """Build the adapter; ``pretrained=False`` keeps random weights (tests, smoke runs)."""
    filename = "1_lead_ECGFounder.pth" if cfg.in_channels == 1 else "12_lead_ECGFounder.pth"
    state = load_ecgfounder_state(weights, filename=filename) if pretrained else None  # fail fast
    model = Net1D(cfg)
    if state is not None:
        load_strict(model, state, what=f"ECGFounder ({filename})")
    leads = (0,) if cfg.in_channels == 1 else tuple(range(12))
    adapter = ECGFounderAdapter(model, leads=leads, **kw)
    if cfg.in_channels == 1:
        adapter.name = "ecgfounder-1lead"
    return adapter
