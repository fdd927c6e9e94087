"""CLEF: clinical similarity and the loss against naive loops (several batch sizes and
temperatures, with missing metadata); reduces to NT-Xent without metadata."""

from __future__ import annotations

import math

import pytest
import torch

from ecgfoundry.losses.ssl.clef import CLEFLoss, clinical_similarity
from ecgfoundry.losses.ssl.ntxent import NTXentLoss
from tests.losses.ssl.reference import naive_clef, naive_clinical_similarity

NAN = float("nan")


def _rows(n, seed, missing=0.3):
    """Records of (age, sex code, risk score) with some values missing."""
    g = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(n):
        r = torch.rand(4, generator=g).tolist()
        age = None if r[0] < missing else float(int(20 + 70 * r[1]))
        sex = None if r[2] < missing else float(int(r[3] * 2))
        score = None if r[1] < missing else round(10 * r[3], 2)
        rows.append([age, sex, score])
    return rows


def _tensor(rows):
    return torch.tensor([[NAN if v is None else v for v in r] for r in rows], dtype=torch.float64)


CAT, SCALES = [False, True, False], [20.0, 1.0, 2.5]


@pytest.mark.parametrize("n", [2, 5, 9])
def test_similarity_matches_naive(n):
    rows = _rows(n, seed=n)
    W, known = clinical_similarity(_tensor(rows), CAT, SCALES)
    W_ref, known_ref = naive_clinical_similarity(rows, CAT, SCALES)
    assert known.tolist() == known_ref
    torch.testing.assert_close(W, torch.tensor(W_ref, dtype=torch.float64))


def test_similarity_known_values():
    x = torch.tensor([[60.0, 0.0], [80.0, 0.0], [60.0, 1.0], [NAN, NAN], [NAN, 1.0]])
    W, known = clinical_similarity(x, [False, True], [20.0, 1.0])
    assert float(W[0, 1]) == pytest.approx((math.exp(-1) + 1) / 2)
    assert float(W[0, 2]) == pytest.approx(0.5)            # same age, other sex
    assert not known[0, 3] and not known[3, 3]             # nothing present: unknown
    assert known[0, 4] and float(W[2, 4]) == pytest.approx(1.0)  # only sex shared, equal
    assert float(W[0, 4]) == pytest.approx(0.0)
    torch.testing.assert_close(W, W.T)


@pytest.mark.parametrize("n", [2, 4, 7])
@pytest.mark.parametrize("tau", [0.1, 0.5])
@pytest.mark.parametrize("lam", [0.0, 1.0, 3.0])
def test_loss_matches_naive(n, tau, lam):
    rows = _rows(n, seed=10 * n + int(10 * tau))
    g = torch.Generator().manual_seed(n)
    z0 = torch.randn(n, 6, generator=g, dtype=torch.float64)
    z1 = torch.randn(n, 6, generator=g, dtype=torch.float64)
    out = CLEFLoss(tau, lam, CAT, SCALES)(z0, z1, _tensor(rows))
    con, sim, total = naive_clef(z0, z1, rows, CAT, SCALES, tau, lam)
    assert float(out["contrastive"]) == pytest.approx(con, rel=1e-9)
    assert float(out["clinical"]) == pytest.approx(sim, rel=1e-9, abs=1e-12)
    assert float(out["clef"]) == pytest.approx(total, rel=1e-9)


def test_no_metadata_is_exactly_ntxent_and_gradients_flow():
    z0 = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    z1 = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    missing = torch.full((6, 3), NAN, dtype=torch.float64)
    out = CLEFLoss(0.2, 1.0, CAT, SCALES)(z0, z1, missing)
    torch.testing.assert_close(out["clef"], NTXentLoss(0.2)(z0, z1)["contrastive"])
    assert float(out["known_pairs"]) == 0.0 and float(out["clinical"].detach()) == 0.0
    out["clef"].backward()
    assert z0.grad is not None and torch.isfinite(z0.grad).all()


def test_negatives_weighted_by_clinical_dissimilarity():
    z0 = torch.randn(2, 4, dtype=torch.float64)
    z1 = torch.randn(2, 4, dtype=torch.float64)
    loss = CLEFLoss(0.5, 0.0, [False], [20.0])
    # clinically identical records are not each other's negatives: no negative left, loss 0
    assert float(loss(z0, z1, torch.tensor([[50.0], [50.0]], dtype=torch.float64))["contrastive"]) == 0.0
    # the more dissimilar, the stronger the push (larger loss for the same embeddings)
    ages = [50.0, 60.0, 90.0, 200.0]
    values = [float(loss(z0, z1, torch.tensor([[50.0], [a]], dtype=torch.float64))["contrastive"]) for a in ages]
    assert values == sorted(values) and values[-1] < float(NTXentLoss(0.5)(z0, z1)["contrastive"])


def test_bad_input():
    with pytest.raises(ValueError):
        CLEFLoss(0.1, 1.0, CAT, SCALES)(torch.randn(3, 4), torch.randn(3, 4), torch.randn(3, 2))
    with pytest.raises(ValueError):
        clinical_similarity(torch.randn(3, 2), [True], [1.0, 1.0])
    with pytest.raises(ValueError):
        CLEFLoss(-1.0)
