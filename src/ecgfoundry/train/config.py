"""The training configuration: a frozen dataclass saved with every checkpoint; CLI flags map onto it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from ecgfoundry.models.config import ConfigError


@dataclass(frozen=True)
class TrainConfig:
    """How to pretrain (the model itself is a :class:`~ecgfoundry.models.config.ModelConfig`).

    The optimiser is AdamW with linear warm-up then cosine decay to ``min_lr_ratio × lr``;
    gradients are clipped to ``grad_clip`` (global norm). With an adversarial masker the masker has
    its own AdamW (``masker_lr``). ``minmax="alternating"``: the masker takes ``masker_steps`` updates,
    each with its own batch, forward and backward pass, after every ``model_steps_per_masker`` model
    updates (the min-max ratio). ``minmax="one_pass"``: one forward and backward pass per step serve
    both sides (gradient reversal between masker and encoder, see
    :mod:`ecgfoundry.models.ecg_text`); the masker steps every ``model_steps_per_masker`` steps.
    """

    steps: int = 1000                    # optimiser steps of the model side
    batch_size: int = 64                 # per process
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 100
    min_lr_ratio: float = 0.01           # cosine floor as a fraction of lr
    grad_clip: float = 1.0               # global-norm clip (0 = off)
    masker_lr: float = 1e-3
    masker_lr_schedule: str = "constant"  # "constant" | "cosine": the masker follows the model's warm-up + cosine
    masker_steps: int = 1                # masker updates per round
    minmax: str = "alternating"          # "alternating" | "one_pass" (adversarial masker only)
    model_steps_per_masker: int = 1      # model updates per round
    lead_drop_p: float = 0.2             # augmentation: each lead dropped with this probability
    span_min: float = 0.05               # augmentation: one zeroed span per lead, this fraction ...
    span_max: float = 0.10               # ... up to this fraction of the record
    seed: int = 0
    log_every: int = 10                  # metrics CSV row every N steps
    checkpoint_every: int = 500          # checkpoint every N steps (and at the end)
    amp: str = "auto"                    # "auto" (bf16/fp16 on CUDA, off on CPU) | "off" | "bf16" | "fp16"
    device: str = "auto"                 # "auto" | "cpu" | "cuda" | "cuda:N"
    split: str = "train"                 # which split of the data to pretrain on

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "log_every", "checkpoint_every", "masker_steps",
                     "model_steps_per_masker"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(name, f"must be an integer >= 1, got {v!r}")
        if not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise ConfigError("warmup_steps", f"must be an integer >= 0, got {self.warmup_steps!r}")
        for name in ("lr", "masker_lr"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not v > 0:
                raise ConfigError(name, f"must be > 0, got {v!r}")
        for name in ("weight_decay", "grad_clip"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or v < 0:
                raise ConfigError(name, f"must be >= 0, got {v!r}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ConfigError("min_lr_ratio", f"must be in [0, 1], got {self.min_lr_ratio!r}")
        if not 0 <= self.lead_drop_p < 1:
            raise ConfigError("lead_drop_p", f"must be in [0, 1), got {self.lead_drop_p!r}")
        if not 0 <= self.span_min <= self.span_max <= 1:
            raise ConfigError("span_max", f"need 0 <= span_min <= span_max <= 1, got {self.span_min}, {self.span_max}")
        if self.masker_lr_schedule not in ("constant", "cosine"):
            raise ConfigError("masker_lr_schedule", f"must be constant or cosine, got {self.masker_lr_schedule!r}")
        if self.minmax not in ("alternating", "one_pass"):
            raise ConfigError("minmax", f"must be alternating or one_pass, got {self.minmax!r}")
        if self.minmax == "one_pass" and self.masker_steps != 1:
            raise ConfigError("masker_steps", f"the one-pass min-max step updates the masker once per pass; "
                                              f"got {self.masker_steps} (use minmax=alternating)")
        if self.amp not in ("auto", "off", "bf16", "fp16"):
            raise ConfigError("amp", f"must be auto, off, bf16 or fp16, got {self.amp!r}")
        if self.split not in ("train", "val", "test", "all"):
            raise ConfigError("split", f"must be train, val, test or all, got {self.split!r}")
        if not isinstance(self.seed, int):
            raise ConfigError("seed", f"must be an integer, got {self.seed!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(unknown[0], f"unknown training field (known: {', '.join(sorted(known))})")
        return cls(**data)

    def replace(self, **changes: Any) -> "TrainConfig":
        return TrainConfig.from_dict({**self.to_dict(), **changes})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)
