"""What the pretraining loop needs from a model, declared as :class:`typing.Protocol` s.

:class:`PretrainModel` is the contract of every model the loop trains (ECG-text models and ECG-only
SSL models alike). :class:`SelfSupervisedModel` adds the members of models that draw their own views
and learn from the signal alone (SimCLR, MoCo, BYOL, CLEF): no text needed, no shared missingness
augmentation, metadata columns, and a hook after every optimiser step (momentum targets, MoCo's queue).
The loop asks ``isinstance(model, SelfSupervisedModel)`` once, instead of probing single attributes
with ``getattr`` / ``hasattr`` defaults, and refuses a model that is not a :class:`PretrainModel`
with a message that names the missing members.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

import torch
from torch import Tensor, nn

__all__ = ["PretrainModel", "SelfSupervisedModel", "TrainingHooks", "training_hooks"]


@runtime_checkable
class PretrainModel(Protocol):
    """A model the pretraining loop can train (:func:`ecgfoundry.train.loop.pretrain`)."""

    text_encoder: nn.Module | None          # embedded reports are cached up front when it is frozen

    @property
    def has_adversary(self) -> bool:
        """True when the model has a masker with its own optimiser (SCAR's min-max game)."""
        ...

    def model_parameters(self) -> list[nn.Parameter]:
        """The parameters of the model side of the game (everything trainable but the masker)."""
        ...

    def masker_parameters(self) -> list[nn.Parameter]:
        """The masker's parameters (empty without an adversary)."""
        ...

    def forward_losses(self, signal: Tensor, observed: Tensor, texts: Sequence[str], step_kind: str = "model",
                       generator: torch.Generator | None = None, **extra: Any) -> dict[str, Tensor]:
        """Named scalar losses of one batch; ``"loss"`` is the one the side ``step_kind`` minimises."""
        ...


@runtime_checkable
class SelfSupervisedModel(PretrainModel, Protocol):
    """An ECG-only model: it draws its own augmented views and needs no report text."""

    needs_text: bool                        # False: records without a report are trained on too
    own_augmentation: bool                  # True: the loop applies no shared missingness augmentation

    @property
    def meta_columns(self) -> tuple[str, ...]:
        """Metadata columns ``forward_losses`` reads from its ``meta`` argument (CLEF's features)."""
        ...

    def after_step(self, step: int, total_steps: int) -> None:
        """Called once after every model-side optimiser step."""
        ...


class TrainingHooks:
    """How the loop treats one model, read once from its declared interface."""

    __slots__ = ("needs_text", "own_augmentation", "meta_columns", "after_step")

    def __init__(self, needs_text: bool, own_augmentation: bool, meta_columns: tuple[str, ...], after_step):
        self.needs_text = needs_text
        self.own_augmentation = own_augmentation
        self.meta_columns = meta_columns
        self.after_step = after_step

    def extra(self, meta: Mapping[str, Sequence] | None) -> dict[str, Any]:
        """Keyword arguments of ``forward_losses`` beyond the batch (``meta`` when columns are read)."""
        return {"meta": meta} if self.meta_columns else {}


def _missing(model: object, protocol: type) -> list[str]:
    names = [n for n in getattr(protocol, "__protocol_attrs__", ()) if not n.startswith("_")]
    if not names:  # Python < 3.12: the annotated and defined members of the protocol and its bases
        names = sorted({n for k in protocol.__mro__ if k not in (object, Protocol, protocol.__mro__[-1])
                        for n in (*getattr(k, "__annotations__", {}), *vars(k)) if not n.startswith("_")})
    return sorted(n for n in names if not hasattr(model, n))


def training_hooks(model: object) -> TrainingHooks:
    """The loop's view of ``model``: a :class:`SelfSupervisedModel` declares its hooks; any other
    :class:`PretrainModel` is an ECG-text model (needs text, shared missingness augmentation, no
    metadata, nothing after a step).

    Raises
    ------
    TypeError
        ``model`` is not a :class:`PretrainModel` (the message lists the missing members).
    """
    if not isinstance(model, PretrainModel):
        raise TypeError(f"{type(model).__name__} cannot be pretrained: it lacks "
                        f"{', '.join(_missing(model, PretrainModel))} (see ecgfoundry.train.interface.PretrainModel)")
    if isinstance(model, SelfSupervisedModel):
        return TrainingHooks(bool(model.needs_text), bool(model.own_augmentation), tuple(model.meta_columns),
                             model.after_step)
    return TrainingHooks(True, False, (), None)
