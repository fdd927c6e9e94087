"""One loading function for any model: :func:`load` takes a run folder (``ecgfoundry pretrain``), a
checkpoint folder, a shipped model's name (``ecgfoundry models list``) or an external adapter's name
with its weights (HuBERT-ECG, ECGFounder, ECG-FM, ECG-JEPA), and returns a :class:`LoadedModel`
whose methods take numpy arrays or torch tensors.

Examples
--------
>>> import ecgfoundry
>>> model = ecgfoundry.load("runs/scar")                       # doctest: +SKIP
>>> z = model.encode_ecg(signal)              # (N, E), L2-normalised; signal (N, 12, T) mV, numpy or torch
>>> scores = model.zero_shot(signal, {"AF": ["atrial fibrillation"], "NORM": ["normal ECG"]})
>>> emb = ecgfoundry.load("ecg-fm", weights="~/models/ecg_fm.pt").embed(signal, fs=500)   # (N, D)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["LoadedModel", "load"]


def _as_numpy(x, dtype) -> np.ndarray:
    if type(x).__module__.startswith("torch"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


class LoadedModel:
    """A loaded ECG model with one calling convention.

    Every method takes ``signal`` of shape ``(N, 12, T)`` (or one record ``(12, T)``) in mV, canonical
    lead order, as a numpy array or a torch tensor; ``observed`` (same shape, bool) defaults to "every
    finite sample" (NaN / inf become unobserved zeros, the readers' convention). ``fs`` (Hz) resamples
    to the model's rate when it differs. Results come back as numpy arrays for numpy input and as
    tensors for tensor input.

    Attributes
    ----------
    name : str
    kind : {"run", "shipped", "adapter"}
    model : the underlying ``nn.Module`` (an ECG-text model, an SSL model or an adapter)
    fs : float or None
        The model's sampling rate (None: an adapter resamples itself).
    has_text : bool
        Whether :meth:`encode_text` and :meth:`zero_shot` are available.
    """

    def __init__(self, model: Any, name: str, kind: str, fs: float | None, source: str = ""):
        self.model = model
        self.name = name
        self.kind = kind
        self.fs = fs
        self.source = source
        from ecgfoundry.eval.protocol import has_text

        self.has_text = kind != "adapter" and has_text(model)

    def __repr__(self) -> str:
        fs = f"{self.fs:g} Hz" if self.fs else "own preprocessing"
        return (f"LoadedModel({self.name!r}, kind={self.kind}, {type(self.model).__name__}, {fs}, "
                f"text={'yes' if self.has_text else 'no'})")

    # ------------------------------------------------------------------ inputs
    def _inputs(self, signal, observed=None, fs: float | None = None):
        import torch

        is_torch = isinstance(signal, torch.Tensor)
        if hasattr(signal, "signal") and hasattr(signal, "observed"):  # an EcgBatch
            signal, observed, fs = signal.signal, signal.observed, fs or signal.fs
        x = _as_numpy(signal, np.float32)
        if x.ndim == 2:
            x = x[None]
        if x.ndim != 3 or x.shape[1] != 12:
            raise ValueError(f"signal must be (N, 12, T) or (12, T) in the canonical lead order, got {x.shape}")
        finite = np.isfinite(x)
        o = finite if observed is None else (_as_numpy(observed, bool).reshape(x.shape) & finite)
        x = np.where(o, x, 0.0).astype(np.float32)
        if fs is not None and self.fs is not None and abs(float(fs) - self.fs) > 1e-9:
            from ecgfoundry.signals.resample import resample

            x, o = resample(x, o, float(fs), self.fs)
            x, o = np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(o, dtype=bool)
        return x, o, fs, is_torch

    @staticmethod
    def _out(array: np.ndarray, is_torch: bool):
        if is_torch:
            import torch

            return torch.from_numpy(np.ascontiguousarray(array))
        return array

    # ------------------------------------------------------------------ methods
    def embed(self, signal, observed=None, fs: float | None = None, pooling: str | None = "mean",
              batch_size: int = 64):
        """Frozen embeddings: pooled ``(N, D)`` (``pooling`` mean / max / last, over observed tokens),
        or the tokens ``(N, M, D)`` with ``pooling=None`` (the benchmark's embedding source)."""
        import torch

        from ecgfoundry.batch import EcgBatch
        from ecgfoundry.bench.embed import pool

        x, o, fs, is_torch = self._inputs(signal, observed, fs)
        out = []
        for a in range(0, len(x), batch_size):
            xs, os_ = x[a:a + batch_size], o[a:a + batch_size]
            if self.kind == "adapter":
                tokens = self.model.embed(EcgBatch(signal=xs, observed=os_, fs=float(fs or 500.0)))
                mask = None
            else:
                with torch.inference_mode():
                    enc = self.model.ecg_tokens(torch.from_numpy(xs), torch.from_numpy(os_))
                tokens, mask = enc.tokens, enc.token_observed
            if pooling is None:
                out.append(_as_numpy(tokens, np.float32))
            else:
                out.append(pool(tokens, pooling, mask))
        return self._out(np.concatenate(out), is_torch)

    def encode_ecg(self, signal, observed=None, fs: float | None = None, batch_size: int = 64):
        """The model's ECG embedding ``(N, E)`` (L2-normalised, in the shared ECG-text space for an
        ECG-text model); an adapter gives its mean-pooled tokens."""
        import torch

        if self.kind == "adapter":
            return self.embed(signal, observed, fs, pooling="mean", batch_size=batch_size)
        x, o, _, is_torch = self._inputs(signal, observed, fs)
        out = []
        with torch.inference_mode():
            for a in range(0, len(x), batch_size):
                out.append(self.model.encode_ecg(torch.from_numpy(x[a:a + batch_size]),
                                                 torch.from_numpy(o[a:a + batch_size])).float().numpy())
        return self._out(np.concatenate(out), is_torch)

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Text embeddings ``(N, E)`` in the shared space (ECG-text models only)."""
        import torch

        self._need_text("encode_text")
        with torch.inference_mode():
            return self.model.encode_text(list(texts)).float().numpy()

    def zero_shot(self, signal, prompts: Mapping[str, Sequence[str]] | str, observed=None,
                  fs: float | None = None) -> np.ndarray:
        """Zero-shot scores ``(N, K)``: cosine similarity to each class's averaged prompt embedding.

        ``prompts`` maps class -> phrasings, or names a label set of the packaged prompt file
        (``"ptbxl/superdiagnostic"``, ``"synthetic/synthetic"``, ...); ``self.classes`` is set to the
        column order.
        """
        from ecgfoundry.eval.prompts import load_prompts, prompts_for
        from ecgfoundry.eval.zero_shot import zero_shot_classifier, zero_shot_scores

        self._need_text("zero_shot")
        if isinstance(prompts, str):
            table = load_prompts()
            if prompts not in table:
                raise KeyError(f"no prompt label set {prompts!r}; the packaged ones: {', '.join(sorted(table))}")
            classes = list(table[prompts])
            prompts = prompts_for(table, prompts, classes)
        classes = list(prompts)
        x, o, _, is_torch = self._inputs(signal, observed, fs)
        scores = zero_shot_scores(self.model, x, o, zero_shot_classifier(self.model, classes, prompts))
        self.classes = classes
        return self._out(np.asarray(scores, dtype=np.float32), is_torch)

    def _need_text(self, what: str) -> None:
        if not self.has_text:
            raise ValueError(f"{self.name}: {what} needs an ECG-text model; this one is ECG-only "
                             f"({type(self.model).__name__}): use embed() or encode_ecg()")


def load(name_or_path: str | Path, weights: str | Path | None = None, device: str = "cpu") -> LoadedModel:
    """Load any model: a run or checkpoint folder, a shipped model's name, or an adapter name with
    ``weights`` (a local file or folder; ``"random"`` for untrained weights).

    Raises
    ------
    EcgDataError
        A path that is not a run or checkpoint folder, or an unknown name (the message lists the
        shipped models and the adapters).
    """
    from ecgfoundry.bench.adapters import list_adapters
    from ecgfoundry.checkpoint import load_model, resolve_checkpoint
    from ecgfoundry.errors import EcgDataError
    from ecgfoundry.pretrained import list_pretrained

    target = str(name_or_path)
    path = Path(target).expanduser()
    if not path.exists() and target in list_adapters():
        from ecgfoundry.bench.sources import ModelSpec, open_source

        if weights is None:
            raise EcgDataError(target, "weights", "an external model needs its weights: "
                               f"ecgfoundry.load({target!r}, weights='PATH') (the README lists each file)")
        adapter = open_source(ModelSpec(target, "adapter", target, str(weights)), device=device)
        return LoadedModel(adapter, target, "adapter", None, str(weights))
    if weights is not None:
        raise EcgDataError(target, "weights", "weights= is for external adapters "
                           f"({', '.join(list_adapters(include_tiny=False))}); a run or shipped model has its own")
    if not path.exists() and len(path.parts) == 1 and target not in list_pretrained():
        raise EcgDataError(target, None, "no such folder, shipped model or adapter (shipped: "
                           f"{', '.join(list_pretrained()) or 'none'}; adapters: "
                           f"{', '.join(list_adapters(include_tiny=False))})")
    folder = resolve_checkpoint(target)
    model = load_model(folder, map_location=device).eval()
    kind = "run" if path.exists() else "shipped"
    return LoadedModel(model, path.name if path.exists() else target, kind, float(model.cfg.encoder.fs), str(folder))
