"""Adapters for public ECG foundation models, loaded from local weights only.

Each adapter turns our canonical :class:`~ecgfoundry.batch.EcgBatch` (``(N, 12, T)`` mV, any
``fs``) into that model's own published input with :meth:`preprocess`, and returns token
embeddings ``(N, M, D)`` from :meth:`embed`; pooling is the benchmark's job. Every preprocessing
fact and checkpoint key filter is documented, with its source, in the adapter module's docstring.

=====================  ===========================================  ==============  =================
name                   input the model sees                          tokens (M x D)  weights file
=====================  ===========================================  ==============  =================
hubert-ecg-small       12 leads, 5 s, 500 Hz FIR 0.05-47 Hz,          93 x 512        model.safetensors
hubert-ecg-base        per-lead [-1, 1], flattened, decimated to      93 x 768        (Edoardo-BS/
hubert-ecg-large       100 Hz: 6000 samples                          93 x 960        hubert-ecg-SIZE)
ecgfounder             12 leads, notch + 0.67-40 Hz + median          20 x 1024       12_lead_ECGFounder.pth
                       baseline, 500 Hz, 10 s, global z-score
ecgfounder-1lead       lead I, same pipeline                          20 x 1024       1_lead_ECGFounder.pth
ecg-fm                 12 leads, linear resample to 500 Hz, per-lead  S x 156 x 768   mimic_iv_ecg_physionet_
                       z-score, S non-overlapping 5 s segments                        pretrained.pt
ecg-jepa               leads I, II, V1-V6, FFT resample to 250 Hz,    400 x 768       multiblock_epoch100.pth
                       10 s, raw mV
=====================  ===========================================  ==============  =================

``*-tiny`` variants have the same module structure with tiny widths, random weights unless
``weights=`` is given; they exist for tests.

Examples
--------
>>> "ecg-fm" in list_adapters()
True
>>> adapter = create_adapter("ecg-jepa-tiny", pretrained=False)
>>> adapter.name
'ecg-jepa'
"""

from __future__ import annotations

from importlib import import_module
from typing import Any, Callable

from ecgfoundry.bench.adapters._base import EmbeddingAdapter
from ecgfoundry.bench.adapters._weights import (CheckpointKeyError, UnsafeCheckpointError,
                                                WeightsNotFoundError)

__all__ = ["create_adapter", "list_adapters", "EmbeddingAdapter", "WeightsNotFoundError", "UnsafeCheckpointError",
           "CheckpointKeyError"]


def _entry(module: str, factory: str, **fixed: Any) -> Callable[..., EmbeddingAdapter]:
    """A lazy factory: the adapter module (and ``transformers``) is imported only when used."""
    def build(weights=None, **kw):
        mod = import_module(f"ecgfoundry.bench.adapters.{module}")
        resolved = {k: (getattr(mod, v[1:]) if isinstance(v, str) and v.startswith("@") else v)
                    for k, v in fixed.items()}
        return getattr(mod, factory)(weights, **resolved, **kw)
    return build


_REGISTRY: dict[str, Callable[..., EmbeddingAdapter]] = {
    "hubert-ecg-small": _entry("hubert_ecg", "create_hubert_ecg", size="small"),
    "hubert-ecg-base": _entry("hubert_ecg", "create_hubert_ecg", size="base"),
    "hubert-ecg-large": _entry("hubert_ecg", "create_hubert_ecg", size="large"),
    "hubert-ecg-tiny": _entry("hubert_ecg", "create_hubert_ecg", size="tiny"),
    "ecgfounder": _entry("ecgfounder", "create_ecgfounder", cfg="@ECGFOUNDER_12LEAD"),
    "ecgfounder-1lead": _entry("ecgfounder", "create_ecgfounder", cfg="@ECGFOUNDER_1LEAD"),
    "ecgfounder-tiny": _entry("ecgfounder", "create_ecgfounder", cfg="@ECGFOUNDER_TINY"),
    "ecg-fm": _entry("ecg_fm", "create_ecg_fm", cfg="@ECG_FM"),
    "ecg-fm-tiny": _entry("ecg_fm", "create_ecg_fm", cfg="@ECG_FM_TINY"),
    "ecg-jepa": _entry("ecg_jepa", "create_ecg_jepa", cfg="@ECG_JEPA"),
    "ecg-jepa-tiny": _entry("ecg_jepa", "create_ecg_jepa", cfg="@ECG_JEPA_TINY"),
}


def list_adapters(include_tiny: bool = True) -> list[str]:
    """Registered adapter names, sorted; ``include_tiny=False`` hides the test variants."""
    return sorted(n for n in _REGISTRY if include_tiny or not n.endswith("-tiny"))


def create_adapter(name: str, weights=None, *, device: str = "cpu", batch_size: int = 16,
                   pretrained: bool = True, **kw) -> EmbeddingAdapter:
    """Build a registered adapter and load its weights from a local path.

    Parameters
    ----------
    name : str
        One of :func:`list_adapters`.
    weights : str or Path, optional
        Local weights file (``.safetensors``, or a ``torch.save`` file read with
        ``weights_only=True``) or a folder holding one. Required unless ``pretrained=False``.
    device : str
        Where :meth:`~EmbeddingAdapter.embed` runs the model.
    batch_size : int
        Inputs per forward pass.
    pretrained : bool
        ``False`` builds the architecture with random weights (tests, smoke runs); nothing is read.
    **kw
        Adapter options (``segments="first"`` for ECG-FM).

    Raises
    ------
    KeyError
        For an unknown name.
    WeightsNotFoundError
        When ``pretrained`` and the weights are absent; the message says what to download and where.
    """
    if name not in _REGISTRY:
        raise KeyError(f"unknown adapter {name!r}; registered: {', '.join(list_adapters())}")
    return _REGISTRY[name](weights, device=device, batch_size=batch_size, pretrained=pretrained, **kw)
