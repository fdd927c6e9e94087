"""probability_fn: batched, eval mode, activations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ecgfoundry.eval.predict import probability_fn


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(12, 3)
        self.batches: list[int] = []

    def forward(self, signal, observed):
        assert not self.training and not torch.is_grad_enabled()
        self.batches.append(len(signal))
        return self.lin((signal * observed).mean(dim=2))


def test_probability_fn():
    head = Head().train()
    rng = np.random.default_rng(0)
    sig = rng.normal(size=(10, 12, 5)).astype(np.float32)
    obs = np.ones(sig.shape, bool)
    p = probability_fn(head, batch_size=4)(sig, obs)
    assert head.batches == [4, 4, 2] and head.training
    with torch.no_grad():
        z = head.lin(torch.from_numpy(sig).mean(2)).numpy()
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-z)), atol=1e-6)
    q = probability_fn(head, activation="softmax")(sig, obs)
    np.testing.assert_allclose(q.sum(1), 1, atol=1e-6)
    with pytest.raises(ValueError, match="activation"):
        probability_fn(head, activation="relu")
