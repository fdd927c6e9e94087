"""Differentiable heads on a frozen ECG encoder and the features they read: pooled encoder features for
linear probes (:func:`encoder_features`) and a fitted probe as an ``nn.Module`` (:class:`ProbeHead`),
so attacks can differentiate through encoder and probe."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["ProbeHead", "encoder_features"]


class ProbeHead(nn.Module):
    """A fitted :class:`~ecgfoundry.eval.linear_probe.LinearProbe` on the model's pooled encoder
    features, as a differentiable ``forward(signal, observed) -> logits`` (for attacks)."""

    def __init__(self, model, probe):
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.as_tensor(probe.mean_, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(probe.scale_, dtype=torch.float32))
        self.linear = nn.Linear(probe.n_features_in_, probe.n_classes_)
        with torch.no_grad():
            self.linear.weight.copy_(torch.as_tensor(probe.coef_, dtype=torch.float32))
            self.linear.bias.copy_(torch.as_tensor(probe.intercept_, dtype=torch.float32))

    def forward(self, signal: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
        z = self.model.ecg_tokens(signal, observed).pooled.float()
        return self.linear((z - self.mean) / self.scale)


def encoder_features(model, signal, observed, batch_size: int = 128) -> np.ndarray:
    """Pooled encoder features ``(N, D)`` (before the projection head) for linear probes."""
    out = []
    model.eval()
    with torch.no_grad():
        for a in range(0, len(signal), batch_size):
            x = torch.as_tensor(np.asarray(signal[a:a + batch_size], dtype=np.float32))
            o = torch.as_tensor(np.asarray(observed[a:a + batch_size], dtype=bool))
            out.append(model.ecg_tokens(x, o).pooled.float().numpy())
    return np.concatenate(out)
