"""HuBERT-ECG (Coppola et al., "HuBERT-ECG as a self-supervised foundation model for broad and
scalable cardiac applications", medRxiv 2024.11.14.24317328): a HuBERT transformer over the 12 leads
concatenated into one 1-D sequence.

Architecture facts
------------------
* The model is ``transformers.HubertModel`` plus two pretraining heads, ``final_proj``
  (``ModuleList`` of ``Linear(hidden, classifier_proj_size)``) and ``label_embedding``
  (``ModuleList`` of ``Embedding(vocab, classifier_proj_size)``) -- Edoar-do/HuBERT-ECG
  ``code/hubert_ecg.py`` (``HuBERTECG(HubertModel)``). The heads are dropped on loading (they only
  score k-means targets during pretraining); everything else loads strictly into ``HubertModel``.
* Sizes (``code/pretrain.py``, ``args.largeness``): small = 512 hidden / 8 layers / 8 heads /
  2048 FFN; base = 768 / 12 / 12 / 3072; large = 960 / 16 / 12 / 3840. Feature extractor for
  ``downsampling_factor == 5`` (the 100 Hz input): ``conv_dim = (512,)*5``, ``conv_kernel =
  (10, 3, 3, 2, 2)``, ``conv_stride = (4, 2, 2, 2, 2)``; all other ``HubertConfig`` fields at their
  defaults (group-norm feature extractor, post-LN encoder, 128-wide / 16-group convolutional
  positional embedding, no conv bias). A Hugging Face folder's ``config.json`` overrides these.
* Tokens = ``last_hidden_state``: 6000 input samples -> **93 tokens** of 512 / 768 / 960 dims
  (total conv stride 64). Evaluation runs without an attention mask, as the authors' validation
  loop does (``attention_mask=None``, ``code/pretrain.py``).

Preprocessing contract (:meth:`HuBERTECGAdapter.preprocess`)
-----------------------------------------------------------
Order of the steps as in the authors' code: the ``.npy`` files are made by ``ecg_preprocessing``
(``code/utils.py``), then ``ECGDataset.__getitem__`` (``hubert_ecg/dataset.py``) crops, flattens
and decimates.

1. 12 leads in the standard order I, II, III, aVR, aVL, aVF, V1-V6 (``ecg_preprocessing`` asserts
   12 leads; ``prep_ptbxl_files`` keeps the WFDB order of PTB-XL) -- our canonical order.
2. Resampling to 500 Hz with ``scipy.signal.resample`` (FFT), ``int(T * 500 / fs)`` samples
   (``ecg_preprocessing``).
3. FIR band-pass 0.05-47 Hz, ``numtaps = int(0.3 * fs) = 150``, ``firwin(..., pass_zero=False)``
   applied causally with ``scipy.signal.lfilter`` (``apply_filter`` / ``filter_signal``,
   ``code/utils.py``).
4. Per-lead min-max scaling to [-1, 1]: ``2 (x - min) / (max - min + 1e-8) - 1`` over the whole
   record (``scaling``, ``code/utils.py``).
5. First 5 s: 2500 samples at 500 Hz (``SAMPLES_IN_5_SECONDS_AT_500HZ``, used when encoding /
   pretraining, ``hubert_ecg/dataset.py``); shorter records are zero-padded at the end (an
   adaptation: the authors' data are 10 s).
6. Leads flattened into one sequence, lead after lead (``ecg_data.reshape(-1)`` on ``(12, 2500)``),
   then ``scipy.signal.decimate(x, 5)`` (500 -> 100 Hz; order-8 Chebyshev I, zero-phase) on the
   *flattened* sequence -> 6000 samples = 12 x 500 (``dataset.py``; 100 Hz also stated in the
   paper's "Data and preprocessing" section).

*Adaptation for missing data* (the published pipeline has none): min/max come from observed
samples only and unobserved samples are set to 0 (mid-range) after scaling.

Weights: ``model.safetensors`` of https://huggingface.co/Edoardo-BS/hubert-ecg-small (``-base``,
``-large``); a local snapshot folder (with its ``config.json``) or the bare file works. Legacy
``.pt`` checkpoints (``{"model_state_dict": ..., "model_config": HubertConfig}``) need unrestricted
pickle for the config and are refused -- convert them with the authors' ``hubert-ecg-convert``.
Key filters: prefixes ``hubert_ecg.`` / ``hubert.`` / ``module.`` stripped; ``final_proj.*`` and
``label_embedding.*`` dropped; legacy ``weight_g``/``weight_v`` of the positional conv renamed to
the ``parametrizations.weight.original0/1`` names that current ``transformers`` builds.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ecgfoundry.bench.adapters._base import EmbeddingAdapter
from ecgfoundry.bench.adapters._signal import as_numpy_batch, fft_resample, first_window
from ecgfoundry.bench.adapters._weights import (drop_keys, load_state_dict_file, load_strict,
                                                rename_weight_norm, strip_prefixes)

__all__ = ["HuBERTECGSize", "HUBERT_ECG_SIZES", "HuBERTECGAdapter", "build_hubert_ecg", "hubert_ecg_preprocess",
           "create_hubert_ecg", "load_hubert_ecg_state"]

FS = 500.0
FS_MODEL = 100.0
N_500 = 2500
DECIMATION = 5
HF_SOURCE = "https://huggingface.co/Edoardo-BS/hubert-ecg-{size}"
_HEADS = ("final_proj.", "label_embedding.")


@dataclass(frozen=True)
class HuBERTECGSize:
    """The hyper-parameters that differ between sizes (the rest are ``HubertConfig`` defaults)."""

    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    conv_dim: tuple[int, ...] = (512, 512, 512, 512, 512)
    conv_kernel: tuple[int, ...] = (10, 3, 3, 2, 2)
    conv_stride: tuple[int, ...] = (4, 2, 2, 2, 2)
    num_conv_pos_embeddings: int = 128
    num_conv_pos_embedding_groups: int = 16

    def __post_init__(self):
        if self.hidden_size % self.num_attention_heads:
            raise ValueError("hidden_size must be a multiple of num_attention_heads")
        if not len(self.conv_dim) == len(self.conv_kernel) == len(self.conv_stride):
            raise ValueError("conv_dim, conv_kernel and conv_stride must have the same length")


HUBERT_ECG_SIZES: dict[str, HuBERTECGSize] = {
    "small": HuBERTECGSize(512, 8, 8, 2048),
    "base": HuBERTECGSize(768, 12, 12, 3072),
    "large": HuBERTECGSize(960, 16, 12, 3840),
    # tests only: same module structure, tiny widths
    "tiny": HuBERTECGSize(32, 2, 4, 64, conv_dim=(16,) * 5, num_conv_pos_embeddings=16,
                          num_conv_pos_embedding_groups=4),
}

_CONFIG_FIELDS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "conv_dim",
                  "conv_kernel", "conv_stride", "num_conv_pos_embeddings", "num_conv_pos_embedding_groups",
                  "feat_extract_norm", "do_stable_layer_norm", "conv_bias", "feat_proj_layer_norm",
                  "hidden_act", "layer_norm_eps", "feat_extract_activation")


def build_hubert_ecg(size: HuBERTECGSize | str = "base", *, masked_spec_embed: bool = True,
                     overrides: dict | None = None):
    """A randomly initialised ``transformers.HubertModel`` with HuBERT-ECG's hyper-parameters.

    Parameters
    ----------
    size : HuBERTECGSize or {"small", "base", "large", "tiny"}
    masked_spec_embed : bool
        Whether the model has the ``masked_spec_embed`` vector (present in checkpoints trained with
        time masking; unused at inference).
    overrides : dict, optional
        ``HubertConfig`` fields read from a checkpoint's ``config.json``.
    """
    from transformers import HubertConfig, HubertModel

    spec = HUBERT_ECG_SIZES[size] if isinstance(size, str) else size
    fields = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(spec).items()}
    fields.update(overrides or {})
    cfg = HubertConfig(**fields, mask_time_prob=0.05 if masked_spec_embed else 0.0, mask_feature_prob=0.0,
                       layerdrop=0.0)
    return HubertModel(cfg)


def _config_overrides(weights) -> dict:
    """``HubertConfig`` fields from ``config.json`` beside (or inside) ``weights``, if there is one."""
    if weights is None:
        return {}
    p = Path(weights)
    cfg = (p if p.is_dir() else p.parent) / "config.json"
    if not cfg.is_file():
        return {}
    raw = json.loads(cfg.read_text(encoding="utf-8"))
    return {k: raw[k] for k in _CONFIG_FIELDS if k in raw}


def load_hubert_ecg_state(weights, size: str = "base") -> dict[str, torch.Tensor]:
    """Read and filter a HuBERT-ECG checkpoint into ``HubertModel`` key names (see module docstring)."""
    state = load_state_dict_file(weights, model=f"HuBERT-ECG {size}", filename="model.safetensors",
                                 source=HF_SOURCE.format(size=size),
                                 containers=("model_state_dict", "state_dict", "model"))
    state = strip_prefixes(state, ("module.", "hubert_ecg.", "hubert."))
    return rename_weight_norm(drop_keys(state, _HEADS))


def hubert_ecg_preprocess(batch) -> torch.Tensor:
    """Canonical batch -> HuBERT-ECG input ``(N, 6000)`` float32 (see module docstring)."""
    from scipy.signal import decimate, firwin, lfilter

    signal, observed, fs = as_numpy_batch(batch)
    x, obs = fft_resample(signal, observed, int(signal.shape[-1] * FS / fs))
    taps = firwin(int(0.3 * FS), [0.05 / (FS / 2), 47.0 / (FS / 2)], pass_zero=False)
    x = lfilter(taps, 1.0, x, axis=-1)
    lo = np.min(np.where(obs, x, np.inf), axis=-1, keepdims=True)
    hi = np.max(np.where(obs, x, -np.inf), axis=-1, keepdims=True)
    empty = ~obs.any(axis=-1, keepdims=True)
    lo, hi = np.where(empty, 0.0, lo), np.where(empty, 0.0, hi)
    x = np.where(obs, 2.0 * (x - lo) / (hi - lo + 1e-8) - 1.0, 0.0)
    x, _ = first_window(x, obs, N_500)
    flat = x.reshape(x.shape[0], -1)  # lead after lead
    out = decimate(flat, DECIMATION, axis=-1)
    return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32))


class HuBERTECGAdapter(EmbeddingAdapter):
    """HuBERT-ECG embeddings: tokens ``(N, 93, hidden)`` = ``last_hidden_state``."""

    name = "hubert-ecg"
    native_fs = FS
    native_seconds = N_500 / FS  # 5 s at 500 Hz, then decimated to 100 Hz

    def preprocess(self, batch) -> torch.Tensor:
        return hubert_ecg_preprocess(batch)

    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x, attention_mask=None).last_hidden_state


def create_hubert_ecg(weights=None, *, size: str = "base", pretrained: bool = True, **kw) -> HuBERTECGAdapter:
    """Build the adapter for ``size`` in {"small", "base", "large", "tiny"}."""
    if size not in HUBERT_ECG_SIZES:
        raise KeyError(f"unknown HuBERT-ECG size {size!r}; known: {', '.join(HUBERT_ECG_SIZES)}")
    if not pretrained:
        return _named(HuBERTECGAdapter(build_hubert_ecg(size), **kw), size)
    state = load_hubert_ecg_state(weights, size)
    model = build_hubert_ecg(size, masked_spec_embed="masked_spec_embed" in state,
                             overrides=_config_overrides(weights))
    if any(k.endswith(".weight_g") for k in model.state_dict()):  # an older transformers: legacy names
        state = {k.replace("parametrizations.weight.original0", "weight_g")
                  .replace("parametrizations.weight.original1", "weight_v"): v for k, v in state.items()}
    load_strict(model, state, what=f"HuBERT-ECG {size}")
    return _named(HuBERTECGAdapter(model, **kw), size)


def _named(adapter: HuBERTECGAdapter, size: str) -> HuBERTECGAdapter:
    adapter.name = f"hubert-ecg-{size}"
    return adapter
