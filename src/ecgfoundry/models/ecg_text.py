"""ECG–text model: CLIP / MERL baselines and SCAR (adversarial removal + semantic compensation).

One class, :class:`ECGTextModel`, configured by :class:`~ecgfoundry.models.config.ModelConfig`:

- ``objective="clip"`` (Radford et al. 2021): symmetric InfoNCE between the pooled, projected ECG
  embedding and the projected report embedding u.
- ``objective="merl"`` (Liu et al., MERL, ICML 2024): CLIP plus uni-modal alignment, a symmetric
  InfoNCE between two dropout views (``unimodal_dropout``) of the pooled ECG embedding.
- ``objective="scar"`` (Liu, Han, Zhou, Yao, "SCAR: Semantic Compensation via Adversarial
  Removal"): the masker removes tokens (gate g), the masked branch is aligned with the report,
  and pulled towards the full view:

      L = L_align(z(m), u) + lambda_cons L_cons(z(m), sg(z)) + lambda_mask L_budget(g)

  while the masker maximises ``L_align + lambda_cons L_cons`` under the budget, i.e. minimises
  ``-(L_align + lambda_cons L_cons) + lambda_mask L_budget``.

Branches (SCAR). The ECG is patched and embedded once (``x``, ``token_observed``).

- Full view: ``h = Enc(x)`` over all observed tokens, computed without gradient and without dropout
  (the encoder as at inference; batch-norm layers stay in train mode, and the token embeddings ``x``
  the two views share keep their own dropout); ``z = Pool(h)`` where Pool is the selector
  (when enabled) over *all observed tokens of the un-masked view*, otherwise the encoder's own
  pooling (masked mean for the transformer; for the ResNets attention pooling, or a masked mean with
  ``encoder.resnet_pool="mean"``).
- Masked view: the masker reads ``stopgrad(h)`` and gives g; ``h_hat = Enc(x; remove g)`` (the
  transformer scales token inputs by ``1 - g`` and adds ``log(1 - g)`` to their attention logits;
  the ResNets scale their time-step features by ``1 - g``); ``z(m) = Pool(h_hat; Omega_m)`` with
  weights proportional to ``(1 - g)`` (:mod:`ecgfoundry.models.selector`).
- Both views go through the same projection head; the losses use the projected embeddings.

Alternating min-max updates (what a trainer does)::

    opt_model  = AdamW(model.model_parameters())
    opt_masker = AdamW(model.masker_parameters())     # empty unless model.has_adversary
    for step, batch in ...:
        losses = model(signal, observed, texts, step_kind="model")   # == model.forward_losses(...)
        opt_model.zero_grad(set_to_none=True); losses["loss"].backward(); opt_model.step()
        if model.has_adversary and step % ratio == 0:
            losses = model(signal, observed, texts, step_kind="masker")
            opt_masker.zero_grad(set_to_none=True); losses["loss"].backward(); opt_masker.step()

One-pass min-max (``step_kind="joint"``, the trainer's ``minmax="one_pass"``): one forward and
one backward pass on one batch serve both sides. The masker runs under gradient and its removal
``log(1 - g)`` reaches the encoder through a gradient reversal, so the backward pass of
``L_align + lambda_cons L_cons + lambda_mask L_budget`` leaves on the model side the model step's
gradient and on the masker the gradient of ``-(L_align + lambda_cons L_cons) + lambda_mask L_budget``
(the budget term is not reversed): exactly the gradients of the two alternating steps on that batch
with the same noise (tested). Each side then takes its own optimiser step. It saves the masker's
separate forward and backward pass and its batch.

Gradient separation is done by the model, not the trainer: in the model step the masker runs under
``torch.no_grad`` (g is a constant, so masker parameters get no gradient); in the masker step the
model-side parameters have ``requires_grad`` switched off for the duration of the forward pass, so
the backward pass computes gradients for the masker parameters only (the encoder's ``.grad`` are
left untouched, no wasted work). Under DDP wrap the model with ``find_unused_parameters=True``
(each step leaves one parameter group unused) and call the wrapper, which calls ``forward``; DDP
may then leave zero (never non-zero) gradients on the unused group, so each optimiser should
``zero_grad`` before its own backward pass, as above (tested with 2 gloo processes).

Inference: the masker is discarded; :meth:`ECGTextModel.encode_ecg` pools the observed tokens of
the input with the selector (or the encoder's pooling) and L2-normalises.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ecgfoundry.losses.budget import MaskBudgetLoss
from ecgfoundry.losses.clip import ClipLoss, text_keys
from ecgfoundry.losses.consistency import ConsistencyLoss
from ecgfoundry.losses.unimodal import UnimodalAlignmentLoss
from ecgfoundry.models.build import build_encoder
from ecgfoundry.models.config import ModelConfig
from ecgfoundry.models.encoder_output import EncoderOutput
from ecgfoundry.models.masker import AdversarialMasker, MaskOutput, RandomMasker, leave_one_out_advantage
from ecgfoundry.models.selector import Selector
from ecgfoundry.models.transformer import Attention
from ecgfoundry.models.text import build_text_encoder

__all__ = ["ECGTextModel", "STEP_KINDS"]

STEP_KINDS = ("model", "masker", "joint")


class _ReverseGrad(torch.autograd.Function):
    """Identity forward; the backward pass flips the sign of the gradient (gradient reversal)."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        return -grad


def reverse_grad(x: Tensor) -> Tensor:
    """``x`` forward, ``-d/dx`` backward: what sits between the masker's gates and the encoder in the
    one-pass min-max step, so one backward pass gives the encoder the gradient of the loss and the
    masker the gradient of its negation."""
    return _ReverseGrad.apply(x)


def _projection(d_in: int, d_out: int, kind: str) -> nn.Module:
    if kind == "linear":
        return nn.Linear(d_in, d_out)
    return nn.Sequential(nn.Linear(d_in, d_in), nn.GELU(), nn.Linear(d_in, d_out))


@contextmanager
def dropout_off(module: nn.Module) -> Iterator[None]:
    """Switch dropout off in ``module`` (``nn.Dropout*`` layers and attention dropout) for the duration,
    leaving every other train-mode behaviour (batch-norm statistics) as it is; restore afterwards."""
    switched = [m for m in module.modules()
                if m.training and isinstance(m, (nn.modules.dropout._DropoutNd, Attention))]
    for m in switched:
        m.training = False
    try:
        yield
    finally:
        for m in switched:
            m.training = True


@contextmanager
def _no_grad_for(params: list[nn.Parameter]) -> Iterator[None]:
    """Switch ``requires_grad`` off for ``params`` while building a graph; restore afterwards."""
    switched = [p for p in params if p.requires_grad]
    for p in switched:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in switched:
            p.requires_grad_(True)


class ECGTextModel(nn.Module):
    """ECG encoder + text encoder in a shared, L2-normalised embedding space (see module docstring).

    Parameters
    ----------
    cfg : ModelConfig
    text_encoder : nn.Module or None
        Use this text encoder (anything with ``encode(list[str]) -> (N, dim)`` and ``dim``) instead
        of building one from ``cfg.text`` (e.g. to share a loaded model between presets).
    local_loss, gather_with_grad : bool
        Distributed flags of the InfoNCE losses (:class:`~ecgfoundry.losses.clip.ClipLoss`).
    """

    def __init__(self, cfg: ModelConfig, text_encoder: nn.Module | None = None,
                 local_loss: bool = False, gather_with_grad: bool = True):
        super().__init__()
        if not isinstance(cfg, ModelConfig):
            raise TypeError(f"ECGTextModel needs a ModelConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        self.encoder = build_encoder(cfg.encoder)
        self.text_encoder = text_encoder if text_encoder is not None else build_text_encoder(cfg.text)
        d_ecg, d_text = int(self.encoder.dim), int(self.text_encoder.dim)
        self.ecg_proj = _projection(d_ecg, cfg.embed_dim, cfg.projection)
        self.text_proj = _projection(d_text, cfg.embed_dim, cfg.projection)
        self.selector = Selector(d_ecg, cfg.selector.hidden) if cfg.selector.enabled else None
        m = cfg.masker
        self.masker: nn.Module | None
        if m.mode == "adversarial":
            positions = cfg.encoder.n_leads * cfg.encoder.max_time_patches if m.centre else 0
            self.masker = AdversarialMasker(d_ecg, m.hidden, m.tau, m.budget, cap=m.budget_mode == "cap",
                                            shift=m.budget_mode == "shift", logit_bound=m.logit_bound,
                                            centre_positions=positions,
                                            n_leads=cfg.encoder.n_leads if m.unit == "lead" else 0)
        elif m.mode == "random":
            self.masker = RandomMasker(m.budget)
        else:
            self.masker = None
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / cfg.init_temperature)),
                                        requires_grad=cfg.learn_temperature)
        self.clip_loss = ClipLoss(local_loss, gather_with_grad, name="align")
        self.unimodal_loss = UnimodalAlignmentLoss(local_loss, gather_with_grad)
        self.consistency_loss = ConsistencyLoss()
        self.budget_loss = MaskBudgetLoss(m.budget) if m.enabled else None
        self.unimodal_dropout = nn.Dropout(cfg.unimodal_dropout)

    # ------------------------------------------------------------------ parameters

    @property
    def has_adversary(self) -> bool:
        """True when the model has a trainable (adversarial) masker and needs masker steps."""
        return isinstance(self.masker, AdversarialMasker)

    def masker_parameters(self) -> list[nn.Parameter]:
        """Parameters of the adversarial masker (empty for other presets)."""
        return list(self.masker.parameters()) if self.masker is not None else []

    def model_parameters(self) -> list[nn.Parameter]:
        """Every trainable parameter except the masker's: encoders, selector, projections,
        temperature (a frozen text backbone is not included)."""
        masker_ids = {id(p) for p in self.masker_parameters()}
        return [p for p in self.parameters() if p.requires_grad and id(p) not in masker_ids]

    # ------------------------------------------------------------------ embeddings

    def scale(self) -> Tensor:
        """The logit scale 1 / temperature, clamped to ``max_logit_scale`` (CLIP)."""
        return self.logit_scale.clamp(max=math.log(self.cfg.max_logit_scale)).exp()

    def pool(self, tokens: Tensor, token_observed: Tensor, keep_log: Tensor | None = None) -> Tensor:
        """Selector pooling when enabled, else the encoder's own pooling; (N, M, D) -> (N, D)."""
        if self.selector is not None:
            return self.selector(tokens, token_observed, keep_log)
        return self.encoder.pool(tokens, token_observed, keep_log)

    def ecg_tokens(self, signal: Tensor, observed: Tensor) -> EncoderOutput:
        """Token features of the ECG encoder (``pooled`` is the model's pooling of the full view)."""
        x, tobs = self.encoder.embed_tokens(signal, observed.to(torch.bool))
        h = self.encoder.encode_tokens(x, tobs)
        return EncoderOutput(h, tobs, self.pool(h, tobs))

    def encode_ecg(self, signal: Tensor, observed: Tensor) -> Tensor:
        """L2-normalised ECG embeddings (N, E) of ``signal`` (N, 12, T) with mask ``observed`` (tensors,
        or numpy arrays, which are moved to the model's device; the result is a tensor).

        The masker is not used; the selector (or the encoder's pooling) aggregates the observed
        tokens. Call ``model.eval()`` first for deterministic embeddings.
        """
        device = next(self.ecg_proj.parameters()).device
        if not isinstance(signal, Tensor):  # numpy or nested lists: float32 on the model's device
            signal = torch.as_tensor(signal, dtype=torch.float32, device=device)
        if not isinstance(observed, Tensor):
            observed = torch.as_tensor(observed, dtype=torch.bool, device=device)
        z = self.ecg_tokens(signal, observed).pooled
        return F.normalize(self.ecg_proj(z), dim=-1)

    def removal_gates(self, signal: Tensor, observed: Tensor) -> tuple[Tensor, Tensor]:
        """The adversarial masker's gates ``g`` (N, M) on the full view, and ``token_observed`` (N, M).

        Deterministic in eval mode (no Gumbel noise); ``g = 0`` on unobserved tokens. Used to attack a
        model at test time with its own masker and to draw the removal map; the masker is never used
        by :meth:`encode_ecg`.
        """
        out, tobs = self.masker_output(signal, observed)
        return out.gate, tobs

    def masker_output(self, signal: Tensor, observed: Tensor) -> tuple[MaskOutput, Tensor]:
        """The adversarial masker's full output (gates, logits) on the full view, and ``token_observed``;
        see :meth:`removal_gates`."""
        if not isinstance(self.masker, AdversarialMasker):
            raise ValueError(f"model {self.cfg.name or self.cfg.objective!r} has no adversarial masker")
        x, tobs = self.encoder.embed_tokens(signal, observed.to(torch.bool))
        h = x if self.cfg.masker.input == "local" else self.encoder.encode_tokens(x, tobs)
        return self.masker(h, tobs), tobs

    def token_weights(self, signal: Tensor, observed: Tensor, removed: Tensor | None = None) -> Tensor:
        """The selector's pooling weights ``alpha`` (N, M) over the tokens (SCAR's token importance).

        ``removed`` (N, M) bool, optional: tokens removed hard (``g = 1``) before encoding and pooling,
        as the masked branch sees them. Without a selector the weights are the encoder's uniform
        mean over the visible observed tokens.
        """
        from ecgfoundry.models.selector import masked_softmax_weights

        x, tobs = self.encoder.embed_tokens(signal, observed.to(torch.bool))
        keep_log = None
        if removed is not None:
            keep_log = torch.zeros(tobs.shape, dtype=x.dtype, device=x.device).masked_fill(
                removed.to(torch.bool) & tobs, float("-inf"))
        h = self.encoder.encode_tokens(x, tobs, keep_log)
        if self.selector is not None:
            return self.selector.weights(h, tobs, keep_log)
        return masked_softmax_weights(tobs, None, keep_log)

    def text_features(self, texts: Sequence[str]) -> Tensor:
        """Projected, un-normalised report embeddings (N, E)."""
        u = self.text_encoder.encode(list(texts))
        return self.text_proj(u.to(self.text_proj_dtype()))

    def text_proj_dtype(self) -> torch.dtype:
        return next(self.text_proj.parameters()).dtype

    def encode_text(self, texts: Sequence[str]) -> Tensor:
        """L2-normalised report embeddings (N, E)."""
        return F.normalize(self.text_features(texts), dim=-1)

    # ------------------------------------------------------------------ losses

    def forward(self, signal: Tensor, observed: Tensor, texts: Sequence[str], step_kind: str = "model",
                generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Same as :meth:`forward_losses` (so DDP wrappers can call the model)."""
        return self.forward_losses(signal, observed, texts, step_kind, generator)

    def forward_losses(self, signal: Tensor, observed: Tensor, texts: Sequence[str],
                       step_kind: str = "model", generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Named losses of one batch for one side of the min-max game.

        Parameters
        ----------
        signal : Tensor of shape (N, 12, T), float
        observed : Tensor of shape (N, 12, T), bool
        texts : list of N str
            Reports, paired with the ECGs row-wise.
        step_kind : {"model", "masker", "joint"}
            ``"model"``: the loss the encoders, selector, projections and temperature minimise.
            ``"masker"``: the loss the adversarial masker minimises (only when ``has_adversary``).
            ``"joint"``: the one-pass min-max step (adversarial masker, gumbel estimator): the
            model's loss, whose backward pass also leaves the masker's gradient (gradient
            reversal); ``"masker_loss"`` is the masker's loss, detached.
        generator : torch.Generator or None
            Random source of the masker's noise / random removal.

        Returns
        -------
        dict of str -> Tensor (scalars)
            ``"loss"`` (to back-propagate) and its parts: ``"align"`` always; ``"unimodal"`` (merl);
            ``"consistency"`` (scar with consistency), ``"budget"`` and the detached
            ``"mask_rate"`` (mean g over observed tokens) for scar; the detached ``"logit_scale"``.
        """
        if step_kind not in STEP_KINDS:
            raise ValueError(f"step_kind must be one of {STEP_KINDS}, got {step_kind!r}")
        if len(texts) != signal.shape[0]:
            raise ValueError(f"{len(texts)} texts for {signal.shape[0]} ECGs")
        observed = observed.to(torch.bool)
        if step_kind == "masker":
            if not self.has_adversary:
                raise ValueError(f"model {self.cfg.name or self.cfg.objective!r} has no adversarial masker; "
                                 "there is no masker step (check model.has_adversary)")
            with _no_grad_for(self.model_parameters()):
                return self._scar_losses(signal, observed, texts, masker_step=True, generator=generator)
        if step_kind == "joint":
            if not self.has_adversary or self.cfg.masker.estimator != "gumbel":
                raise ValueError(f"model {self.cfg.name or self.cfg.objective!r}: the one-pass min-max step needs an "
                                 "adversarial masker with the gumbel estimator (use the alternating schedule)")
            return self._scar_losses(signal, observed, texts, masker_step=False, generator=generator, joint=True)
        if self.cfg.objective == "scar":
            return self._scar_losses(signal, observed, texts, masker_step=False, generator=generator)
        return self._clip_losses(signal, observed, texts)

    def _keys(self, texts: Sequence[str], device: torch.device) -> Tensor | None:
        """Text keys for same-text positives (``clip_targets="same_text"``), else None (one-hot)."""
        return text_keys(texts, device) if self.cfg.clip_targets == "same_text" else None

    def _clip_losses(self, signal: Tensor, observed: Tensor, texts: Sequence[str]) -> dict[str, Tensor]:
        scale = self.scale()
        z = self.ecg_tokens(signal, observed).pooled
        u = F.normalize(self.text_features(texts), dim=-1)
        out = self.clip_loss(F.normalize(self.ecg_proj(z), dim=-1), u, scale, self._keys(texts, u.device))
        loss = out["align"]
        if self.cfg.objective == "merl":
            v1 = F.normalize(self.ecg_proj(self.unimodal_dropout(z)), dim=-1)
            v2 = F.normalize(self.ecg_proj(self.unimodal_dropout(z)), dim=-1)
            out.update(self.unimodal_loss(v1, v2, scale))
            loss = loss + self.cfg.lambda_uni * out["unimodal"]
        out["loss"] = loss
        out["logit_scale"] = scale.detach()
        return out

    def _mask(self, h_full: Tensor | None, x: Tensor, tobs: Tensor, masker_step: bool,
              generator: torch.Generator | None) -> MaskOutput:
        assert self.masker is not None
        if isinstance(self.masker, AdversarialMasker):
            assert h_full is not None
            if self.cfg.masker.input == "local":
                h_full = x
            if masker_step:  # the masker step, and the joint step (its gates then pass a gradient reversal)
                return self.masker(h_full.detach(), tobs, generator)
            with torch.no_grad():
                return self.masker(h_full.detach(), tobs, generator)
        return self.masker(x, tobs, generator)

    def _scar_inputs(self, signal: Tensor, observed: Tensor, texts: Sequence[str], masker_step: bool,
                     need_full: bool) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor | None, Tensor | None]:
        """Temperature, token embeddings, token_observed, text embeddings, and the full view's tokens and
        projected embedding (None unless ``need_full``)."""
        # Everything that does not depend on the removal is constant in the masker step.
        with torch.set_grad_enabled(torch.is_grad_enabled() and not masker_step):
            scale = self.scale()
            x, tobs = self.encoder.embed_tokens(signal, observed)
            u = F.normalize(self.text_features(texts), dim=-1)
        h_full = e_full = None
        if need_full:
            # The full view only enters as stopgrad(z) (consistency) and stopgrad(h) (masker input):
            # no graph is needed for it in either step. It is the encoder as at inference (no dropout):
            # a target without the train-time noise, and on CPU attention without dropout takes the
            # fused kernel, about 4x faster than the math path dropout forces.
            with torch.no_grad(), dropout_off(self.encoder):  # the only part of the full view with dropout
                h_full = self.encoder.encode_tokens(x, tobs)
                e_full = self.ecg_proj(self.pool(h_full, tobs))
        return scale, x, tobs, u, h_full, e_full

    def _scar_losses(self, signal: Tensor, observed: Tensor, texts: Sequence[str], masker_step: bool,
                     generator: torch.Generator | None, joint: bool = False) -> dict[str, Tensor]:
        cfg = self.cfg
        if cfg.masker.estimator == "score":
            return self._scar_score_losses(signal, observed, texts, masker_step, generator)
        scale, x, tobs, u, h_full, e_full = self._scar_inputs(signal, observed, texts, masker_step,
                                                              self.has_adversary or cfg.use_consistency)
        mask = self._mask(h_full, x, tobs, masker_step or joint, generator)
        keep_log = reverse_grad(mask.keep_log) if joint else mask.keep_log
        h_hat = self.encoder.encode_tokens(x, tobs, keep_log)
        e_masked = self.ecg_proj(self.pool(h_hat, tobs, keep_log))

        out = self.clip_loss(F.normalize(e_masked, dim=-1), u, scale, self._keys(texts, u.device))
        adversary_target = out["align"]
        if cfg.use_consistency:
            assert e_full is not None
            out.update(self.consistency_loss(e_masked, e_full))
            adversary_target = adversary_target + cfg.lambda_cons * out["consistency"]
        assert self.budget_loss is not None
        out.update(self.budget_loss(mask.gate, tobs))
        budget = cfg.lambda_mask * out["budget"]
        out["loss"] = -adversary_target + budget if masker_step else adversary_target + budget
        if joint:
            out["masker_loss"] = (-adversary_target + budget).detach()
        out["logit_scale"] = scale.detach()
        return out

    def removal_costs(self, x: Tensor, tobs: Tensor, u: Tensor, scale: Tensor, e_full: Tensor | None,
                      removed: Tensor) -> Tensor:
        """What each of ``K`` hard removals costs each record: (K, N).

        ``removed`` (K, N, M) bool. The cost of record i is the mean of its two InfoNCE terms within
        the (local) batch, ECG -> text (row i) and text -> ECG (column i), plus ``lambda_cons (1 - cos)``
        to the full view when the model has the consistency term: the per-record share of the loss
        the adversary maximises. ``x`` (N, M, D) token embeddings, ``u`` (N, E) normalised text
        embeddings.
        """
        k, n, m = removed.shape
        keep_log = torch.zeros(removed.shape, dtype=x.dtype, device=x.device).masked_fill(removed, float("-inf"))
        keep_log = keep_log.reshape(k * n, m)
        tobs_k = tobs.repeat(k, 1)
        h = self.encoder.encode_tokens(x.repeat(k, 1, 1), tobs_k, keep_log)
        e = self.ecg_proj(self.pool(h, tobs_k, keep_log)).reshape(k, n, -1)
        logits = scale * F.normalize(e, dim=-1).float() @ u.float().T                     # (K, N, N)
        target = torch.arange(n, device=x.device).expand(k, n)
        ce_row = F.cross_entropy(logits.transpose(1, 2), target, reduction="none")       # ECG -> text
        ce_col = F.cross_entropy(logits, target, reduction="none")                        # text -> ECG
        cost = 0.5 * (ce_row + ce_col)
        if self.cfg.use_consistency:
            assert e_full is not None
            cost = cost + self.cfg.lambda_cons * (1 - F.cosine_similarity(e.float(), e_full.float()[None], dim=-1))
        return cost

    def _scar_score_losses(self, signal: Tensor, observed: Tensor, texts: Sequence[str], masker_step: bool,
                           generator: torch.Generator | None) -> dict[str, Tensor]:
        """SCAR with hard removals and the score-function masker (``masker.estimator="score"``)."""
        cfg = self.cfg
        masker = self.masker
        assert isinstance(masker, AdversarialMasker)
        scale, x, tobs, u, h_full, e_full = self._scar_inputs(signal, observed, texts, masker_step, True)
        assert h_full is not None and e_full is not None
        h_in = (x if cfg.masker.input == "local" else h_full).detach()
        if masker_step:
            draws = masker.sample(h_in, tobs, cfg.masker.samples, generator)
            with torch.no_grad():
                costs = self.removal_costs(x.detach(), tobs, u.detach(), scale.detach(), e_full, draws.removed)
                adv = leave_one_out_advantage(costs)
                adv = adv / adv.std().clamp(min=1e-6)
            out = self.budget_loss(draws.prob, tobs)
            out["align"] = costs.mean()
            out["mask_rate"] = (draws.removed.float().sum() / (tobs.float().sum() * len(costs)).clamp(min=1)).detach()
            out["loss"] = -(adv * draws.log_prob).mean()
            out["logit_scale"] = scale.detach()
            return out
        with torch.no_grad():
            removed = masker.sample(h_in, tobs, 1, generator).removed[0]
        keep_log = torch.zeros(removed.shape, dtype=x.dtype, device=x.device).masked_fill(removed, float("-inf"))
        h_hat = self.encoder.encode_tokens(x, tobs, keep_log)
        e_masked = self.ecg_proj(self.pool(h_hat, tobs, keep_log))
        out = self.clip_loss(F.normalize(e_masked, dim=-1), u, scale, self._keys(texts, u.device))
        loss = out["align"]
        if cfg.use_consistency:
            out.update(self.consistency_loss(e_masked, e_full))
            loss = loss + cfg.lambda_cons * out["consistency"]
        assert self.budget_loss is not None
        out.update(self.budget_loss(removed.to(x.dtype), tobs))
        out["budget"] = out["budget"].detach()  # the removal is drawn, not a function of the model side
        out["loss"] = loss
        out["logit_scale"] = scale.detach()
        return out
