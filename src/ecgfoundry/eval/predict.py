"""Turn a torch model into the numpy callable the evaluation protocols take.

The missingness protocol and CMRS accept any ``fn(signal, observed) -> (N, K)`` numpy callable, so
a user can plug in a scikit-learn pipeline, a model from another framework or a torch module.
:func:`probability_fn` wraps a torch module ``module(signal, observed) -> logits`` into one:
eval mode, ``torch.no_grad``, batched, probabilities out.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

ProbabilityFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``fn(signal (N, 12, T) float32, observed (N, 12, T) bool) -> (N, K) float``."""


def probability_fn(module, activation: str = "sigmoid", batch_size: int = 256,
                   device=None) -> ProbabilityFn:
    """Wrap ``module(signal, observed) -> logits (N, K)`` into a batched numpy probability function.

    Parameters
    ----------
    module : torch.nn.Module or callable
    activation : {"sigmoid", "softmax", "none"}
        Multi-label heads use ``"sigmoid"``; multi-class ``"softmax"``; ``"none"`` passes scores.
    batch_size : int
    device : torch.device or str, optional
        Defaults to the device of the module's first parameter (CPU when it has none).
    """
    import torch

    if activation not in ("sigmoid", "softmax", "none"):
        raise ValueError(f"activation must be 'sigmoid', 'softmax' or 'none', got {activation!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if device is None:
        params = list(module.parameters()) if hasattr(module, "parameters") else []
        device = params[0].device if params else torch.device("cpu")

    def fn(signal: np.ndarray, observed: np.ndarray) -> np.ndarray:
        was_training = getattr(module, "training", False)
        if hasattr(module, "eval"):
            module.eval()
        out = []
        try:
            with torch.no_grad():
                for a in range(0, len(signal), batch_size):
                    x = torch.as_tensor(np.asarray(signal[a:a + batch_size], dtype=np.float32), device=device)
                    o = torch.as_tensor(np.asarray(observed[a:a + batch_size], dtype=bool), device=device)
                    z = module(x, o).float()
                    if activation == "sigmoid":
                        z = torch.sigmoid(z)
                    elif activation == "softmax":
                        z = torch.softmax(z, dim=-1)
                    out.append(z.cpu().numpy())
        finally:
            if was_training and hasattr(module, "train"):
                module.train()
        return np.concatenate(out).astype(np.float64) if out else np.zeros((0, 0))

    return fn
