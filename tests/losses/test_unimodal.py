"""Uni-modal alignment equals InfoNCE between the two views."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ecgfoundry.losses.unimodal import UnimodalAlignmentLoss
from tests.losses.reference import naive_infonce


@pytest.mark.parametrize("n", [2, 6])
@pytest.mark.parametrize("temperature", [0.05, 0.2])
def test_matches_naive(n, temperature):
    g = torch.Generator().manual_seed(n)
    v1 = F.normalize(torch.randn(n, 8, generator=g, dtype=torch.float64), dim=-1)
    v2 = F.normalize(torch.randn(n, 8, generator=g, dtype=torch.float64), dim=-1)
    out = UnimodalAlignmentLoss()(v1, v2, 1 / temperature)
    assert set(out) == {"unimodal"}
    torch.testing.assert_close(out["unimodal"].double(), naive_infonce(v1, v2, 1 / temperature))
