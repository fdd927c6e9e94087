"""Zero-shot classification with an ECG-text model.

Class k is represented by ``u_k``: the mean of the L2-normalised text embeddings of its phrasings
(:mod:`ecgfoundry.eval.prompts`), re-normalised. The zero-shot score of record x for class k is
``cos(z, u_k)`` with ``z = encode_ecg(x)`` (Radford et al. 2021, "Learning transferable visual
models from natural language supervision", prompt ensembling).

``model`` is anything with ``encode_ecg(signal, observed) -> (N, E)`` and
``encode_text(list[str]) -> (N, E)`` (the ECG-text model interface, docs/layout.md).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as nnf
from torch import nn


def _device(model) -> torch.device:
    params = list(model.parameters()) if hasattr(model, "parameters") else []
    return params[0].device if params else torch.device("cpu")


class _EvalMode:
    """Put a module in eval mode for a block and restore its mode afterwards."""

    def __init__(self, model):
        self.model = model
        self.was_training = getattr(model, "training", False)

    def __enter__(self):
        if hasattr(self.model, "eval"):
            self.model.eval()

    def __exit__(self, *exc):
        if self.was_training and hasattr(self.model, "train"):
            self.model.train()


def zero_shot_classifier(model, classnames: Sequence[str], prompts: Mapping[str, Sequence[str]],
                         batch_size: int = 256) -> torch.Tensor:
    """Class embeddings ``(K, E)``: (weighted) average of each class's unit phrasing embeddings, re-normalised.

    Parameters
    ----------
    model : ECG-text model with ``encode_text``
    classnames : sequence of str
        Order of the rows (the label set's class order).
    prompts : mapping class -> list of phrasings
        E.g. ``prompts_for(load_prompts(), "superdiagnostic", classes)``; a list with a ``weights``
        attribute (:class:`~ecgfoundry.eval.prompts.Phrasings`) gives a weighted mean.
    batch_size : int
        Texts encoded per call.
    """
    missing = [c for c in classnames if not prompts.get(c)]
    if missing:
        raise KeyError(f"no prompts for classes {', '.join(missing)}")
    texts = [p for c in classnames for p in prompts[c]]
    owner = np.repeat(np.arange(len(classnames)), [len(prompts[c]) for c in classnames])
    # per-phrasing weights (eval.prompts.Phrasings.weights); plain lists weigh their phrasings equally
    weight = np.concatenate([np.asarray(getattr(prompts[c], "weights", None) or [1.0] * len(prompts[c]), np.float32)
                             for c in classnames])
    with torch.no_grad(), _EvalMode(model):
        emb = torch.cat([torch.as_tensor(model.encode_text(texts[a:a + batch_size])).float()
                         for a in range(0, len(texts), batch_size)])
        emb = nnf.normalize(emb, dim=-1)
        owner_t = torch.as_tensor(owner, device=emb.device)
        cls = torch.zeros(len(classnames), emb.shape[1], dtype=emb.dtype, device=emb.device)
        cls.index_add_(0, owner_t, emb * torch.as_tensor(weight, dtype=emb.dtype, device=emb.device)[:, None])
        return nnf.normalize(cls, dim=-1)


def zero_shot_scores(model, signal, observed, classifier: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """Cosine scores ``(N, K)`` of every record against every class embedding.

    Parameters
    ----------
    model : ECG-text model with ``encode_ecg``
    signal : ndarray or Tensor (N, 12, T) float32, mV
    observed : ndarray or Tensor (N, 12, T) bool
    classifier : Tensor (K, E) from :func:`zero_shot_classifier`
    """
    device = _device(model)
    cls = nnf.normalize(torch.as_tensor(classifier).float().to(device), dim=-1)
    out = []
    with torch.no_grad(), _EvalMode(model):
        for a in range(0, len(signal), batch_size):
            x = torch.as_tensor(np.asarray(signal[a:a + batch_size], dtype=np.float32)
                                if not isinstance(signal, torch.Tensor) else signal[a:a + batch_size]).to(device)
            o = torch.as_tensor(np.asarray(observed[a:a + batch_size], dtype=bool)
                                if not isinstance(observed, torch.Tensor) else observed[a:a + batch_size]).to(device)
            z = nnf.normalize(torch.as_tensor(model.encode_ecg(x, o)).float(), dim=-1)
            out.append((z @ cls.T).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(cls)), dtype=np.float32)


def heldout_infonce(model, signal, observed, texts: Sequence[str], batch_size: int = 32,
                    scale: float | None = None) -> float:
    """Mean symmetric InfoNCE of the full view over consecutive whole batches of ``batch_size`` records.

    Within a batch, ``logits = scale * z @ u.T`` with ``z = encode_ecg`` and ``u = encode_text`` (both
    L2-normalised); the loss is ``(CE(logits, i) + CE(logits.T, i)) / 2``. Chance is ``ln(batch_size)``.
    ``scale`` defaults to the model's learned ``scale()``. A trailing partial batch is left out (its
    chance level differs); fewer records than one batch raise ``ValueError``.
    """
    if len(texts) != len(signal):
        raise ValueError(f"{len(signal)} records but {len(texts)} texts")
    if len(texts) < batch_size:
        raise ValueError(f"held-out InfoNCE needs at least one whole batch of {batch_size} records, got {len(texts)}")
    device = _device(model)
    losses = []
    with torch.no_grad(), _EvalMode(model):
        s = float(model.scale()) if scale is None else float(scale)
        for a in range(0, len(texts) - batch_size + 1, batch_size):
            x = torch.as_tensor(np.asarray(signal[a:a + batch_size], dtype=np.float32)).to(device)
            o = torch.as_tensor(np.asarray(observed[a:a + batch_size], dtype=bool)).to(device)
            z = nnf.normalize(torch.as_tensor(model.encode_ecg(x, o)).float(), dim=-1)
            u = nnf.normalize(torch.as_tensor(model.encode_text(list(texts[a:a + batch_size]))).float().to(device), dim=-1)
            logits = s * z @ u.T
            target = torch.arange(len(z), device=device)
            losses.append(0.5 * (nnf.cross_entropy(logits, target) + nnf.cross_entropy(logits.T, target)).item())
    return float(np.mean(losses))


class ZeroShotHead(nn.Module):
    """``forward(signal, observed) -> logits = scale * cos(z, u_k)``: the zero-shot classifier as a
    differentiable torch callable (for adversarial attacks and CMRS).

    Parameters
    ----------
    model : ECG-text model
    classifier : Tensor (K, E)
    scale : float
        Logit scale (the model's learned inverse temperature, e.g. 100 for CLIP).
    """

    def __init__(self, model, classifier: torch.Tensor, scale: float = 100.0):
        super().__init__()
        self.model = model
        self.register_buffer("classifier", nnf.normalize(torch.as_tensor(classifier).float(), dim=-1))
        self.scale = float(scale)

    def forward(self, signal: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
        z = nnf.normalize(self.model.encode_ecg(signal, observed).float(), dim=-1)
        return self.scale * z @ self.classifier.T
