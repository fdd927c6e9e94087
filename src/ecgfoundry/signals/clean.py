"""Turning raw arrays into the ``(signal, observed)`` convention: no NaN, no infinity, no dead leads."""

from __future__ import annotations

import numpy as np


def sanitize(signal, observed=None, *, flat_zero_unobserved: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Mark NaN / infinite samples unobserved and zero every unobserved sample.

    Parameters
    ----------
    signal : array_like of shape (..., 12, T), mV
        Any real dtype. Values too large for float32 become infinite on conversion and are
        therefore marked unobserved too.
    observed : array_like of shape (..., 12, T), bool, optional
        Known mask; default: every sample observed. Non-bool input is read as truthiness.
    flat_zero_unobserved : bool
        If True (default), a lead (row of the last axis) whose observed samples are all exactly 0
        becomes unobserved, as the ecgfoundry convention says: real releases store missing leads
        as zeros.

    Returns
    -------
    signal : ndarray of shape (..., 12, T), float32, mV
        Finite everywhere; exactly 0 where unobserved.
    observed : ndarray of shape (..., 12, T), bool
        The input mask, minus non-finite samples (and all-zero leads).

    Raises
    ------
    ValueError
        If ``observed`` is given with a different shape.

    Examples
    --------
    >>> x, m = sanitize(np.array([[1.0, np.nan, -np.inf], [0.0, 0.0, 0.0]]))
    >>> x.tolist(), m.tolist()
    ([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]], [[True, False, False], [False, False, False]])
    """
    with np.errstate(over="ignore"):  # too large for float32 -> inf -> unobserved, as documented
        x = np.array(signal, dtype=np.float32)  # always a copy
    if observed is None:
        obs = np.ones(x.shape, dtype=bool)
    else:
        obs = np.array(observed, dtype=bool)
        if obs.shape != x.shape:
            raise ValueError(f"signal shape {x.shape} and observed shape {obs.shape} differ")
    obs &= np.isfinite(x)
    if flat_zero_unobserved and x.ndim >= 1 and x.shape[-1] > 0:
        dead = ~np.any(obs & (x != 0), axis=-1, keepdims=True)
        obs &= ~dead
    x[~obs] = 0.0
    return x, obs
