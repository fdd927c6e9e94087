"""ECG-only self-supervised models: SimCLR, MoCo, BYOL and CLEF around any registered ECG encoder.

One class, :class:`SSLModel`, configured by a :class:`~ecgfoundry.models.config.ModelConfig` whose
``objective`` is one of ``"simclr"``, ``"moco"``, ``"byol"``, ``"clef"`` (heads, loss constants and
augmentation in ``cfg.ssl``). Every training step draws two augmented views of the batch
(:mod:`ecgfoundry.models.ssl_augment`), encodes them with the encoder (its own pooling: masked mean
for the transformer, attention pooling for the ResNets) and a projection MLP ``g``:

- ``simclr`` (Chen et al. 2020): NT-Xent between ``g(f(v1))`` and ``g(f(v2))`` over the global batch.
- ``moco`` (He et al. 2020; MLP head and temperature of MoCo v2): the query ``g(f(v1))`` against
  the key ``g'(f'(v2))`` of the momentum encoder and the queue of past keys. The current keys are
  enqueued (gathered across ranks) in :meth:`SSLModel.after_step`, so there is exactly one enqueue
  per optimiser step, after the loss used the queue as it was.
- ``byol`` (Grill et al. 2020): predictor ``q``; ``(loss(q(g(f(v1))), g'(f'(v2))) + loss(q(g(f(v2))),
  g'(f'(v1)))) / 2`` with ``loss = 2 - 2 cos``; the target ``(f', g')`` is an EMA of the online
  network, updated in :meth:`SSLModel.after_step` with BYOL's cosine schedule of the momentum.
- ``clef`` (Shu et al., Nokia Bell Labs 2025): NT-Xent with negatives weighted by clinical
  dissimilarity from the records' metadata plus the similarity-alignment term
  (:mod:`ecgfoundry.losses.ssl.clef` states the exact form), metadata columns ``cfg.ssl.clef_features``
  passed as ``meta`` (a dict of per-record arrays, e.g. ``EcgBatch.meta``).

The interface is the one the pretraining loop uses for :class:`~ecgfoundry.models.ecg_text.ECGTextModel`
(``forward_losses``, ``has_adversary``, ``model_parameters``, ``masker_parameters``, ``ecg_tokens``,
``encode_ecg``) plus ``after_step(step, total_steps)``, which the loop calls after every optimiser
step, ``needs_text = False`` (records without reports are used) and ``own_augmentation = True``
(the loop then leaves out its shared missingness augmentation: the same lead/span pattern on both
views would let the model match views by their missingness pattern).

Inference: :meth:`SSLModel.encode_ecg` is the encoder's pooled output, L2-normalised (the
representation before the projection head, as in SimCLR/MoCo/BYOL); heads and momentum networks are
only used in training. Under DDP the negatives of NT-Xent and CLEF are gathered across ranks with
gradient (like :class:`~ecgfoundry.losses.clip.ClipLoss`), MoCo enqueues the keys of every rank;
BatchNorm in the heads uses each rank's local batch (MoCo's shuffled BN is not implemented; with
BatchNorm in a ResNet encoder the key encoder sees the same batch statistics as the query).
"""

from __future__ import annotations

import copy
import math
import zlib
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ecgfoundry.losses.ssl.byol import BYOLLoss
from ecgfoundry.losses.ssl.clef import CLEFLoss
from ecgfoundry.losses.ssl.moco import KeyQueue, MoCoLoss, gather_keys
from ecgfoundry.losses.ssl.ntxent import NTXentLoss
from ecgfoundry.models.build import build_encoder
from ecgfoundry.models.config import SSL_OBJECTIVES, ModelConfig
from ecgfoundry.models.encoder_output import EncoderOutput
from ecgfoundry.models.momentum import cosine_momentum, update_momentum
from ecgfoundry.models.ssl_augment import TwoViewTransform, ssl_augmentation

__all__ = ["SSLModel", "SSL_OBJECTIVES", "clinical_features"]


def _mlp(d_in: int, hidden: int, d_out: int, batch_norm: bool) -> nn.Sequential:
    """Linear -> (BatchNorm) -> ReLU -> Linear (the SimCLR / BYOL / MoCo v2 heads)."""
    layers: list[nn.Module] = [nn.Linear(d_in, hidden, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm1d(hidden))
    layers += [nn.ReLU(inplace=True), nn.Linear(hidden, d_out)]
    return nn.Sequential(*layers)


def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, str):
        return v.strip().lower() in ("", "nan", "none", "unknown")
    try:
        return not math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def clinical_features(meta: Mapping[str, Sequence] | None, columns: Sequence[str], categorical: Sequence[bool],
                      n: int) -> tuple[np.ndarray, list[str]]:
    """Metadata columns as a float ``(n, F)`` array with NaN for missing values.

    Numeric columns are converted to float (a value that is not a number raises ``ValueError``
    naming the column); categorical columns are encoded by a stable code of their upper-cased
    string value (CRC-32, the same on every process), so equal codes mean equal values. Missing:
    None, NaN, "", "nan", "none", "unknown"; a column absent from ``meta`` (or ``meta`` None) is
    missing for every record.

    Returns the array and the names of the absent columns.

    >>> x, absent = clinical_features({"age": [50, None], "sex": ["M", "m"]}, ["age", "sex", "bmi"],
    ...                               [False, True, False], 2)
    >>> x[:, 0].tolist(), bool(x[0, 1] == x[1, 1]), absent
    ([50.0, nan], True, ['bmi'])
    """
    out = np.full((n, len(columns)), np.nan, dtype=np.float64)
    absent = []
    for j, (col, cat) in enumerate(zip(columns, categorical)):
        if meta is None or col not in meta:
            absent.append(col)
            continue
        values = list(meta[col])
        if len(values) != n:
            raise ValueError(f"meta column {col!r} has {len(values)} values for {n} records")
        for i, v in enumerate(values):
            if _is_missing(v):
                continue
            if cat:
                out[i, j] = float(zlib.crc32(str(v).strip().upper().encode()))
                continue
            try:
                out[i, j] = float(v)
            except (TypeError, ValueError):
                raise ValueError(f"meta column {col!r} is numeric for CLEF but holds {v!r} (list it in "
                                 f"ssl.clef_categorical if it is categorical)") from None
    return out, absent


class SSLModel(nn.Module):
    """An ECG encoder trained by SimCLR, MoCo, BYOL or CLEF (see the module docstring).

    Parameters
    ----------
    cfg : ModelConfig
        ``objective`` in ``SSL_OBJECTIVES``; uses ``encoder``, ``embed_dim`` and ``ssl``.
    text_encoder : ignored
        Accepted so that :func:`~ecgfoundry.models.registry.create_model` can pass it to any model.
    local_loss : ignored (the SSL losses compute the global loss on every rank)
    gather_with_grad : bool
        Distributed flag of NT-Xent / CLEF.

    Examples
    --------
    >>> from ecgfoundry.models.registry import create_model
    >>> model = create_model("simclr", encoder="transformer-tiny")
    >>> x = torch.randn(4, 12, 1000); m = torch.ones_like(x, dtype=torch.bool)
    >>> sorted(model.forward_losses(x, m, generator=torch.Generator().manual_seed(0)))
    ['contrastive', 'loss']
    >>> tuple(model.encode_ecg(x, m).shape)
    (4, 32)
    """

    needs_text = False
    own_augmentation = True
    has_adversary = False

    def __init__(self, cfg: ModelConfig, text_encoder: nn.Module | None = None, local_loss: bool = False,
                 gather_with_grad: bool = True):
        super().__init__()
        if not isinstance(cfg, ModelConfig):
            raise TypeError(f"SSLModel needs a ModelConfig, got {type(cfg).__name__}")
        if cfg.objective not in SSL_OBJECTIVES:
            raise ValueError(f"SSLModel objective must be one of {SSL_OBJECTIVES}, got {cfg.objective!r}")
        self.cfg = cfg
        s = cfg.ssl
        self.text_encoder = None  # ECG-only: no text encoder (the loop and checkpoints check this)
        self.encoder = build_encoder(cfg.encoder)
        d = int(self.encoder.dim)
        bn = s.projector_bn and cfg.objective != "moco"  # MoCo v2's head has no BatchNorm
        self.projector = _mlp(d, s.projector_hidden, cfg.embed_dim, bn)
        self.predictor = _mlp(cfg.embed_dim, s.predictor_hidden, cfg.embed_dim, True) if cfg.objective == "byol" else None
        self.target_encoder: nn.Module | None = None
        self.target_projector: nn.Module | None = None
        if cfg.objective in ("moco", "byol"):
            self.target_encoder = copy.deepcopy(self.encoder)
            self.target_projector = copy.deepcopy(self.projector)
            for p in list(self.target_encoder.parameters()) + list(self.target_projector.parameters()):
                p.requires_grad_(False)
        self.queue = KeyQueue(s.queue_size, cfg.embed_dim) if cfg.objective == "moco" else None
        if cfg.objective == "simclr":
            self.loss_fn: nn.Module = NTXentLoss(s.temperature, gather_with_grad)
        elif cfg.objective == "moco":
            self.loss_fn = MoCoLoss(s.temperature)
        elif cfg.objective == "byol":
            self.loss_fn = BYOLLoss()
        else:
            self.loss_fn = CLEFLoss(s.temperature, s.clef_lambda, self._categorical(), s.clef_scales,
                                    gather_with_grad)
        self.augment = TwoViewTransform(ssl_augmentation(cfg.encoder.fs, s))
        self._pending_keys: Tensor | None = None
        self.last_momentum = s.momentum

    def _categorical(self) -> list[bool]:
        """Which CLEF features are categorical (``cfg.ssl.clef_categorical``)."""
        return [c in self.cfg.ssl.clef_categorical for c in self.cfg.ssl.clef_features]

    # ------------------------------------------------------------------ parameters

    @property
    def meta_columns(self) -> tuple[str, ...]:
        """Metadata columns ``forward_losses`` needs in ``meta`` (CLEF's features; empty otherwise)."""
        return tuple(self.cfg.ssl.clef_features) if self.cfg.objective == "clef" else ()

    def masker_parameters(self) -> list[nn.Parameter]:
        """Empty: there is no adversarial masker."""
        return []

    def model_parameters(self) -> list[nn.Parameter]:
        """The trainable parameters: encoder, projector, predictor (not the momentum target)."""
        return [p for p in self.parameters() if p.requires_grad]

    # ------------------------------------------------------------------ embeddings

    def ecg_tokens(self, signal: Tensor, observed: Tensor) -> EncoderOutput:
        """Token features and the encoder's pooled output of ``signal`` (N, 12, T)."""
        return self.encoder(signal, observed.to(torch.bool))

    def encode_ecg(self, signal: Tensor, observed: Tensor) -> Tensor:
        """L2-normalised pooled encoder output (N, D): the representation used downstream."""
        return F.normalize(self.ecg_tokens(signal, observed).pooled, dim=-1)

    def _project(self, signal: Tensor, observed: Tensor) -> Tensor:
        return self.projector(self.ecg_tokens(signal, observed).pooled)

    @torch.no_grad()
    def _target(self, signal: Tensor, observed: Tensor) -> Tensor:
        assert self.target_encoder is not None and self.target_projector is not None
        return self.target_projector(self.target_encoder(signal, observed.to(torch.bool)).pooled)

    # ------------------------------------------------------------------ losses

    def forward(self, signal: Tensor, observed: Tensor, texts: Sequence[str] | None = None,
                step_kind: str = "model", generator: torch.Generator | None = None,
                meta: Mapping[str, Sequence] | None = None) -> dict[str, Tensor]:
        """Same as :meth:`forward_losses`."""
        return self.forward_losses(signal, observed, texts, step_kind, generator, meta)

    def forward_losses(self, signal: Tensor, observed: Tensor, texts: Sequence[str] | None = None,
                       step_kind: str = "model", generator: torch.Generator | None = None,
                       meta: Mapping[str, Sequence] | None = None) -> dict[str, Tensor]:
        """Named losses of one batch.

        Parameters
        ----------
        signal : Tensor of shape (N, 12, T), float, mV
        observed : Tensor of shape (N, 12, T), bool
        texts : ignored (the loop passes the reports to every model)
        step_kind : {"model"}
            There is no masker step.
        generator : torch.Generator or None
            Random source of the two views (on the signal's device).
        meta : dict of str -> sequence of N values, optional
            Per-record metadata; CLEF reads ``cfg.ssl.clef_features`` from it (absent columns and
            missing values are missing metadata, see :mod:`ecgfoundry.losses.ssl.clef`).

        Returns
        -------
        dict of str -> Tensor (scalars)
            ``"loss"`` and its parts: ``"contrastive"`` (simclr, moco, clef), ``"clinical"`` and
            ``"known_pairs"`` (clef), ``"byol"`` (byol).
        """
        if step_kind != "model":
            raise ValueError(f"model {self.cfg.name or self.cfg.objective!r} has no adversarial masker; "
                             f"step_kind must be 'model', got {step_kind!r}")
        if signal.ndim != 3 or tuple(observed.shape) != tuple(signal.shape):
            raise ValueError(f"signal and observed must both be (N, 12, T), got {tuple(signal.shape)} and "
                             f"{tuple(observed.shape)}")
        (x1, m1), (x2, m2) = self.augment(signal, observed.to(torch.bool), generator)
        obj = self.cfg.objective
        if obj == "simclr":
            out = self.loss_fn(self._project(x1, m1), self._project(x2, m2))
            out["loss"] = out["contrastive"]
        elif obj == "clef":
            feats, _ = clinical_features(meta, self.cfg.ssl.clef_features, self._categorical(), signal.shape[0])
            out = self.loss_fn(self._project(x1, m1), self._project(x2, m2),
                               torch.as_tensor(feats, device=signal.device))
            out["loss"] = out.pop("clef")
        elif obj == "moco":
            assert self.queue is not None
            q = self._project(x1, m1)
            k = F.normalize(self._target(x2, m2), dim=1)
            out = self.loss_fn(q, k, self.queue.keys.clone())
            out["loss"] = out["contrastive"]
            if self.training:
                self._pending_keys = gather_keys(k)
        else:  # byol
            assert self.predictor is not None
            p1 = self.predictor(self._project(x1, m1))
            p2 = self.predictor(self._project(x2, m2))
            t1, t2 = self._target(x1, m1), self._target(x2, m2)
            loss = (self.loss_fn(p1, t2)["byol"] + self.loss_fn(p2, t1)["byol"]) / 2
            out = {"byol": loss, "loss": loss}
        return out

    @torch.no_grad()
    def after_step(self, step: int | None = None, total_steps: int | None = None) -> None:
        """Call once after every optimiser step: the momentum update of the target (coefficient
        ``cfg.ssl.momentum``, or with ``momentum_schedule="cosine"`` BYOL's schedule from it to 1 over
        ``total_steps``; the moco preset is constant, byol cosine), then MoCo enqueues the keys of the
        last training forward pass. ``step`` is the number of optimiser steps done so far."""
        s = self.cfg.ssl
        if self.target_encoder is None or self.target_projector is None:
            return
        m = s.momentum
        if s.momentum_schedule == "cosine" and step is not None and total_steps:
            m = cosine_momentum(step, total_steps, s.momentum)
        self.last_momentum = m
        update_momentum(self.encoder, self.target_encoder, m)
        update_momentum(self.projector, self.target_projector, m)
        if self.queue is not None and self._pending_keys is not None:
            self.queue.enqueue(self._pending_keys)
            self._pending_keys = None
