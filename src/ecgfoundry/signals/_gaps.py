"""Bridging of unobserved samples before filtering (an internal step, never returned to users)."""

from __future__ import annotations

import numpy as np


def bridge_gaps(signal: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Fill unobserved samples so a filter sees a continuous signal.

    Inside a lead, each unobserved run is replaced by the straight line between the observed
    samples on either side; a run at the start or end of the lead holds the nearest observed
    value. A lead with no observed sample becomes all zeros. Compared with filling zeros or the
    lead mean, this leaves no step at a gap's edge, so the filter does not ring into the observed
    samples next to it.

    Parameters
    ----------
    signal : ndarray of shape (..., T), float64
    observed : ndarray of shape (..., T), bool

    Returns
    -------
    ndarray of shape (..., T), float64
        ``signal`` where observed, the bridge elsewhere. The result is *not* in the
        zero-where-unobserved convention: callers re-zero after filtering.
    """
    n = signal.shape[-1]
    if n == 0 or observed.all():
        return signal.copy()
    idx = np.arange(n)
    prev = np.maximum.accumulate(np.where(observed, idx, -1), axis=-1)
    nxt = np.flip(np.minimum.accumulate(np.flip(np.where(observed, idx, n), axis=-1), axis=-1), axis=-1)
    has_prev, has_next = prev >= 0, nxt < n
    v_prev = np.take_along_axis(signal, np.clip(prev, 0, n - 1), axis=-1)
    v_next = np.take_along_axis(signal, np.clip(nxt, 0, n - 1), axis=-1)
    inside = has_prev & has_next & (nxt > prev)  # unobserved samples with a neighbour on each side
    weight = np.where(inside, idx - prev, 0) / np.where(inside, nxt - prev, 1)
    both = v_prev + weight * (v_next - v_prev)
    out = np.where(inside, both, np.where(has_prev, v_prev, np.where(has_next, v_next, 0.0)))
    return np.where(observed, signal, out)
