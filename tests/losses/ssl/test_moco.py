"""MoCo loss against the naive loop; the queue (one enqueue per step, pointer wrap-around)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ecgfoundry.losses.ssl.moco import KeyQueue, MoCoLoss
from tests.losses.ssl.reference import naive_moco


@pytest.mark.parametrize("n, k", [(1, 3), (4, 7), (8, 16)])
@pytest.mark.parametrize("tau", [0.07, 0.2, 1.0])
def test_matches_naive_reference(n, k, tau):
    g = torch.Generator().manual_seed(n * 31 + k)
    q, key = torch.randn(n, 6, generator=g, dtype=torch.float64), torch.randn(n, 6, generator=g, dtype=torch.float64)
    queue = torch.randn(k, 6, generator=g, dtype=torch.float64)
    got = MoCoLoss(tau)(q, key, queue)["contrastive"]
    torch.testing.assert_close(got, naive_moco(q, key, queue, tau), rtol=1e-9, atol=1e-9)


def test_keys_get_no_gradient():
    q = torch.randn(4, 5, requires_grad=True)
    k = torch.randn(4, 5, requires_grad=True)
    MoCoLoss()(q, k, torch.randn(8, 5))["contrastive"].backward()
    assert q.grad is not None and k.grad is None


def test_queue_fifo_and_pointer_wraps():
    torch.manual_seed(0)
    q = KeyQueue(size=5, dim=3)
    assert torch.allclose(q.keys.norm(dim=1), torch.ones(5))
    batches = [F.normalize(torch.randn(2, 3), dim=1) for _ in range(4)]
    q.enqueue(batches[0])
    assert int(q.ptr) == 2 and int(q.n_enqueued) == 1
    torch.testing.assert_close(q.keys[:2], batches[0])
    q.enqueue(batches[1])
    q.enqueue(batches[2])       # positions 4, 0: crosses the end
    assert int(q.ptr) == 1 and int(q.n_enqueued) == 3
    torch.testing.assert_close(q.keys[4], batches[2][0])
    torch.testing.assert_close(q.keys[0], batches[2][1])
    torch.testing.assert_close(q.keys[2:4], batches[1])
    big = F.normalize(torch.randn(7, 3), dim=1)  # more keys than the queue holds: the newest 5 survive
    q.enqueue(big)
    assert int(q.ptr) == (1 + 7) % 5
    for row in big[2:]:
        assert (q.keys - row).abs().sum(dim=1).min() < 1e-6


def test_queue_is_saved_in_state_dict():
    q = KeyQueue(4, 2)
    q.enqueue(torch.randn(3, 2))
    assert {"keys", "ptr", "n_enqueued"} <= set(q.state_dict())
    r = KeyQueue(4, 2)
    r.load_state_dict(q.state_dict())
    assert int(r.ptr) == 3 and torch.equal(r.keys, q.keys)
    with pytest.raises(ValueError):
        q.enqueue(torch.randn(3, 5))
