"""Hypothesis strategies for ``(signal, observed)`` pairs, shared by the tests in tests/signals."""

from __future__ import annotations

import numpy as np
from hypothesis import settings, strategies as st

SETTINGS = settings(max_examples=50, deadline=None)

MASK_KINDS = ("all", "dropout", "spans", "dead_leads", "none")


@st.composite
def shapes(draw, min_ndim: int = 1, max_ndim: int = 4, min_t: int = 1, max_t: int = 300):
    """A shape ``(*batch, leads, T)`` (or ``(T,)`` for ndim 1) with small sizes."""
    ndim = draw(st.integers(min_ndim, max_ndim))
    t = draw(st.integers(min_t, max_t))
    if ndim == 1:
        return (t,)
    leads = draw(st.sampled_from([1, 2, 12]))
    batch = tuple(draw(st.integers(1, 3)) for _ in range(ndim - 2))
    return batch + (leads, t)


def make_mask(rng: np.random.Generator, shape: tuple[int, ...], kind: str) -> np.ndarray:
    """An observed mask of one of ``MASK_KINDS``."""
    if kind == "all":
        return np.ones(shape, bool)
    if kind == "none":
        return np.zeros(shape, bool)
    if kind == "dropout":
        return rng.random(shape) > rng.uniform(0.01, 0.5)
    mask = np.ones(shape, bool)
    rows = mask.reshape(-1, shape[-1])
    if kind == "dead_leads":
        rows[rng.random(len(rows)) < 0.3] = False
        return mask
    t = shape[-1]
    for row in rows:  # kind == "spans": up to three unobserved runs per lead
        for _ in range(rng.integers(0, 4)):
            a = rng.integers(0, t)
            row[a:a + rng.integers(1, max(2, t // 3))] = False
    return mask


@st.composite
def pairs(draw, shape=None, kinds=MASK_KINDS, **shape_kwargs):
    """A ``(signal float32, observed bool)`` pair in the convention (zeros where unobserved)."""
    shape = draw(shapes(**shape_kwargs)) if shape is None else shape
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    observed = make_mask(rng, shape, draw(st.sampled_from(kinds)))
    signal = (rng.normal(0.0, rng.uniform(0.05, 3.0), shape) + rng.uniform(-2, 2)).astype(np.float32)
    signal[~observed] = 0.0
    return signal, observed
