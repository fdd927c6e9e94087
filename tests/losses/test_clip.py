"""ClipLoss against the naive reference: values and gradients."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ecgfoundry.losses.clip import ClipLoss
from tests.losses.reference import naive_infonce, naive_soft_infonce


@pytest.mark.parametrize("n", [1, 2, 5, 8])
@pytest.mark.parametrize("temperature", [0.01, 0.07, 0.5, 1.0])
def test_matches_naive(n, temperature):
    g = torch.Generator().manual_seed(n)
    a = F.normalize(torch.randn(n, 16, generator=g, dtype=torch.float64), dim=-1)
    b = F.normalize(torch.randn(n, 16, generator=g, dtype=torch.float64), dim=-1)
    out = ClipLoss()(a, b, 1 / temperature)
    assert set(out) == {"contrastive"}
    torch.testing.assert_close(out["contrastive"].double(), naive_infonce(a, b, 1 / temperature))


@pytest.mark.parametrize("n", [3, 8])
def test_gradient_matches_naive(n):
    g = torch.Generator().manual_seed(0)
    a0 = torch.randn(n, 8, generator=g, dtype=torch.float64)
    b0 = torch.randn(n, 8, generator=g, dtype=torch.float64)
    s0 = torch.tensor(10.0, dtype=torch.float64)
    grads = []
    for fn in (lambda a, b, s: ClipLoss()(a, b, s)["contrastive"], naive_infonce):
        a, b, s = a0.clone().requires_grad_(), b0.clone().requires_grad_(), s0.clone().requires_grad_()
        fn(F.normalize(a, dim=-1), F.normalize(b, dim=-1), s).backward()
        grads.append((a.grad, b.grad, s.grad))
    for x, y in zip(*grads):
        torch.testing.assert_close(x, y)


def test_perfect_alignment_low_loss_and_symmetry():
    a = torch.eye(4)
    assert ClipLoss()(a, a, 100.0)["contrastive"] < 1e-6
    b = F.normalize(torch.randn(4, 4), dim=-1)
    torch.testing.assert_close(ClipLoss()(a, b, 5.0)["contrastive"], ClipLoss()(b, a, 5.0)["contrastive"])


def test_constructor_checks_and_shape_checks():
    with pytest.raises(ValueError):
        ClipLoss(world_size=0)
    with pytest.raises(ValueError):
        ClipLoss(rank=2, world_size=2)
    with pytest.raises(TypeError):
        ClipLoss(local_loss="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="same shape"):
        ClipLoss()(torch.randn(3, 4), torch.randn(2, 4), 1.0)


@pytest.mark.parametrize("keys", [[0, 1, 2, 3, 4, 5], [0, 0, 1, 2, 2, 2], [7, 7, 7, 7, 7, 7]])
def test_same_key_targets_match_naive(keys):
    g = torch.Generator().manual_seed(len(set(keys)))
    a = F.normalize(torch.randn(6, 8, generator=g, dtype=torch.float64), dim=-1)
    b = F.normalize(torch.randn(6, 8, generator=g, dtype=torch.float64), dim=-1)
    out = ClipLoss()(a, b, 7.0, torch.tensor(keys))["contrastive"]
    torch.testing.assert_close(out.double(), naive_soft_infonce(a, b, 7.0, keys))
    if len(set(keys)) == len(keys):  # all distinct: exactly the one-hot loss
        torch.testing.assert_close(out, ClipLoss()(a, b, 7.0)["contrastive"])


def test_same_text_targets_equal_onehot_when_duplicate_texts_embed_identically():
    """Measured fact behind the ``clip_targets`` option: when identical texts get identical embeddings
    (a frozen text encoder), one-hot and same-text targets give the same loss (the floor of both is
    the entropy of the targets, 2/3 log 2 here), so soft targets only change training where duplicate
    texts embed differently (text dropout, a fine-tuned text encoder in train mode)."""
    from ecgfoundry.losses.clip import text_keys

    texts = ["normal ecg.", "normal ecg.", "left bundle branch block."]
    keys = text_keys(texts)
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    onehot = ClipLoss()(a, a, 100.0)["contrastive"].item()
    soft = ClipLoss()(a, a, 100.0, keys)["contrastive"].item()
    assert onehot == pytest.approx(2 / 3 * math.log(2), rel=1e-4) and soft == pytest.approx(onehot, rel=1e-6)
    g = torch.Generator().manual_seed(0)
    ecg = F.normalize(torch.randn(3, 4, generator=g), dim=-1)
    txt = F.normalize(torch.randn(3, 4, generator=g), dim=-1)
    txt_dup = torch.cat([txt[:1], txt[:1], txt[2:]])
    torch.testing.assert_close(ClipLoss()(ecg, txt_dup, 5.0)["contrastive"],
                               ClipLoss()(ecg, txt_dup, 5.0, keys)["contrastive"])
    assert abs(ClipLoss()(ecg, txt, 5.0)["contrastive"] - ClipLoss()(ecg, txt, 5.0, keys)["contrastive"]) > 1e-3
    assert keys[0] == text_keys(["normal ecg."])[0] != keys[2]
