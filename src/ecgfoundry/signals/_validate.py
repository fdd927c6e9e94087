"""Checks shared by the signal functions: one ``(signal, observed)`` pair, validated once."""

from __future__ import annotations

import math

import numpy as np


def check_pair(signal, observed, *, min_ndim: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Validate a ``(signal, observed)`` pair and return it as ``(float64 copy, bool array)``.

    The returned signal is a fresh float64 array with unobserved samples set to 0, so callers may
    modify it in place. Observed samples must be finite (run
    :func:`ecgfoundry.signals.clean.sanitize` first); unobserved ones are ignored whatever they hold.

    Raises
    ------
    TypeError
        If ``observed`` is not a bool array.
    ValueError
        If the shapes differ, ``signal`` has fewer than ``min_ndim`` axes, or an observed sample
        is NaN or infinite.
    """
    signal = np.asarray(signal)
    observed = np.asarray(observed)
    if observed.dtype != np.bool_:
        raise TypeError(f"observed must be a bool array, got dtype {observed.dtype}")
    if not (np.issubdtype(signal.dtype, np.floating) or np.issubdtype(signal.dtype, np.integer)):
        raise TypeError(f"signal must be a real numeric array, got dtype {signal.dtype}")
    if signal.shape != observed.shape:
        raise ValueError(f"signal shape {signal.shape} and observed shape {observed.shape} differ")
    if signal.ndim < min_ndim:
        raise ValueError(f"signal must have at least {min_ndim} axes (..., 12, T), got shape {signal.shape}")
    out = np.where(observed, signal, 0).astype(np.float64)
    if not np.isfinite(out).all():
        raise ValueError("signal has NaN or infinite observed samples; "
                         "call ecgfoundry.signals.clean.sanitize first")
    return out, observed.copy()


def check_rate(value, name: str, unit: str = "Hz") -> float:
    """Return ``value`` as a float after checking it is finite and positive (a rate, a cut-off)."""
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number ({unit}), got {value!r}") from None
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"{name} must be a finite positive number ({unit}), got {value!r}")
    return rate
