"""Naive (explicit-loop) reference implementations of the SSL losses, written from the papers'
formulas independently of the vectorised code."""

from __future__ import annotations

import math

import torch


def _cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.dot(a, b) / (a.norm() * b.norm())


def naive_ntxent(z0: torch.Tensor, z1: torch.Tensor, tau: float, weights=None) -> torch.Tensor:
    """SimCLR's l(i, j) = -log exp(s_ij/tau) / sum_{k != i} exp(s_ik/tau), averaged over the 2N anchors.

    ``weights(a, b)`` (optional) multiplies the term of negative b in anchor a's denominator.
    """
    n = z0.shape[0]
    z = [z0[i] for i in range(n)] + [z1[i] for i in range(n)]
    total = 0.0
    for a in range(2 * n):
        p = (a + n) % (2 * n)
        num = math.exp(float(_cos(z[a], z[p])) / tau)
        den = num
        for b in range(2 * n):
            if b in (a, p):
                continue
            w = 1.0 if weights is None else weights(a, b)
            den += w * math.exp(float(_cos(z[a], z[b])) / tau)
        total += -math.log(num / den)
    return torch.tensor(total / (2 * n), dtype=torch.float64)


def naive_moco(q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor, tau: float) -> torch.Tensor:
    total = 0.0
    for i in range(q.shape[0]):
        pos = math.exp(float(_cos(q[i], k[i])) / tau)
        neg = sum(math.exp(float(_cos(q[i], queue[j])) / tau) for j in range(queue.shape[0]))
        total += -math.log(pos / (pos + neg))
    return torch.tensor(total / q.shape[0], dtype=torch.float64)


def naive_byol(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    total = 0.0
    for i in range(p.shape[0]):
        pn = p[i] / p[i].norm()
        zn = z[i] / z[i].norm()
        total += float(((pn - zn) ** 2).sum())
    return torch.tensor(total / p.shape[0], dtype=torch.float64)


def naive_clinical_similarity(rows, categorical, scales):
    """W and known for a list of records, each a list of feature values (None = missing)."""
    n = len(rows)
    W = [[0.0] * n for _ in range(n)]
    known = [[False] * n for _ in range(n)]
    for i in range(n):
        for j in range(n):
            sims = []
            for f, (cat, scale) in enumerate(zip(categorical, scales)):
                a, b = rows[i][f], rows[j][f]
                if a is None or b is None:
                    continue
                sims.append((1.0 if a == b else 0.0) if cat else math.exp(-abs(a - b) / scale))
            if sims:
                W[i][j] = sum(sims) / len(sims)
                known[i][j] = True
    return W, known


def naive_clef(z0, z1, rows, categorical, scales, tau, lam):
    n = z0.shape[0]
    W, known = naive_clinical_similarity(rows, categorical, scales)

    def weight(a, b):
        i, j = a % n, b % n
        return 1.0 - W[i][j] if (known[i][j] and i != j) else 1.0

    con = float(naive_ntxent(z0, z1, tau, weight))
    z = [z0[i] for i in range(n)] + [z1[i] for i in range(n)]
    terms = []
    for a in range(2 * n):
        for b in range(2 * n):
            i, j = a % n, b % n
            if i == j or not known[i][j]:
                continue
            terms.append(((1 + float(_cos(z[a], z[b]))) / 2 - W[i][j]) ** 2)
    sim = sum(terms) / len(terms) if terms else 0.0
    return con, sim, con + lam * sim
