"""The one surface every external-model adapter offers: ``preprocess(batch)`` and ``embed(batch)``."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["EmbeddingAdapter"]


class EmbeddingAdapter:
    """A frozen external encoder plus its own published preprocessing.

    Subclasses set :attr:`name`, build :attr:`model` and implement :meth:`preprocess` (our
    canonical :class:`~ecgfoundry.batch.EcgBatch` -> the model's input tensor, on the CPU) and
    :meth:`forward_tokens` (model input -> tokens ``(n, M, D)``).

    Parameters
    ----------
    model : nn.Module
        The encoder, weights already loaded.
    device : str or torch.device
        Where the forward pass runs (``"cpu"``, ``"cuda"``, ``"cuda:1"``).
    batch_size : int
        Records per forward pass inside :meth:`embed`.
    """

    name: str = "adapter"
    native_fs: float | None = None
    """Rate (Hz) the model's published pipeline starts from: the benchmark harmonises the data to it."""
    native_seconds: float | None = None
    """Record length (s) the pipeline starts from (it may cut windows out of it)."""

    def __init__(self, model: nn.Module, *, device: str | torch.device = "cpu", batch_size: int = 16):
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.model = model.to(self.device).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    # -- to implement -------------------------------------------------------------------------
    def preprocess(self, batch) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------------------
    def postprocess(self, tokens: torch.Tensor, n_records: int) -> torch.Tensor:
        """Regroup per-input tokens into per-record tokens (identity unless a record is split)."""
        return tokens

    @torch.no_grad()
    def embed(self, batch) -> torch.Tensor:
        """Tokens of every record: ``Tensor (N, M, D)``, float32, on the CPU.

        Runs :meth:`preprocess` on the whole batch, then the model in eval mode without gradients,
        ``batch_size`` inputs at a time on :attr:`device`.
        """
        x = self.preprocess(batch)
        self.model.eval()
        outs = []
        for start in range(0, len(x), self.batch_size):
            chunk = x[start:start + self.batch_size].to(self.device)
            outs.append(self.forward_tokens(chunk).float().cpu())
        tokens = torch.cat(outs) if outs else torch.empty(0)
        return self.postprocess(tokens, len(batch))

    def __repr__(self) -> str:
        n = sum(p.numel() for p in self.model.parameters())
        return f"{type(self).__name__}(name={self.name!r}, params={n:,}, device={self.device})"
