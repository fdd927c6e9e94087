"""Amplitude normalisation over observed samples only: per-record min-max and per-lead z-score."""

from __future__ import annotations

import numpy as np

from ecgfoundry.signals._validate import check_pair


def minmax(signal, observed) -> tuple[np.ndarray, np.ndarray]:
    """Scale each record to ``[0, 1]`` using the minimum and maximum of its observed samples.

    One minimum and one maximum per record, over all leads together (the SCAR protocol), so the
    relative amplitudes of the leads are kept.

    Parameters
    ----------
    signal : ndarray of shape (..., 12, T), mV
        A record is one ``(12, T)`` slice of the last two axes. Unobserved samples are ignored.
    observed : ndarray of shape (..., 12, T), bool

    Returns
    -------
    signal : ndarray of shape (..., 12, T), float32, dimensionless
        ``(x - min) / (max - min)`` on observed samples: their minimum is exactly 0 and their
        maximum exactly 1. A constant record, or one with no observed sample, maps to all zeros.
        Unobserved samples are 0.
    observed : ndarray of shape (..., 12, T), bool
        A copy of the input mask.

    Examples
    --------
    >>> x = np.array([[2.0, 4.0], [3.0, 9.0]], np.float32); m = np.array([[True, True], [True, False]])
    >>> minmax(x, m)[0].tolist()
    [[0.0, 1.0], [0.5, 0.0]]
    """
    x, obs = check_pair(signal, observed, min_ndim=2)
    axes = (-2, -1)
    lo = np.min(np.where(obs, x, np.inf), axis=axes, keepdims=True)
    hi = np.max(np.where(obs, x, -np.inf), axis=axes, keepdims=True)
    span = hi - lo
    usable = np.isfinite(span) & (span > 0)  # False for constant or empty records
    scaled = (x - np.where(usable, lo, 0.0)) / np.where(usable, span, 1.0)
    out = np.where(obs & usable, scaled, 0.0)
    return out.astype(np.float32), obs


def zscore(signal, observed, eps: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Standardise each lead to mean 0 and standard deviation 1 over its observed samples.

    Parameters
    ----------
    signal : ndarray of shape (..., 12, T), mV
        A lead is one row of the last axis. Unobserved samples are ignored.
    observed : ndarray of shape (..., 12, T), bool
    eps : float
        Floor on the standard deviation (population, ``ddof=0``), in mV: the divisor is
        ``max(std, eps)``, so a flat lead maps to zeros and no lead is blown up past ``1 / eps``.

    Returns
    -------
    signal : ndarray of shape (..., 12, T), float32, dimensionless
        ``(x - mean) / max(std, eps)`` on observed samples; leads with no observed sample stay 0;
        unobserved samples are 0.
    observed : ndarray of shape (..., 12, T), bool
        A copy of the input mask.

    Examples
    --------
    >>> x = np.array([[1.0, 3.0, 7.0]], np.float32); m = np.array([[True, True, False]])
    >>> zscore(x, m)[0].tolist()
    [[-1.0, 1.0, 0.0]]
    """
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a finite positive number, got {eps!r}")
    x, obs = check_pair(signal, observed)
    count = obs.sum(axis=-1, keepdims=True)
    n = np.maximum(count, 1)
    mean = x.sum(axis=-1, keepdims=True) / n  # unobserved samples are 0 in x
    centred = np.where(obs, x - mean, 0.0)
    std = np.sqrt((centred ** 2).sum(axis=-1, keepdims=True) / n)
    out = centred / np.maximum(std, eps)
    return out.astype(np.float32), obs
