"""Resampling and windowing steps that external models' own pipelines use, on ``(N, C, T)`` arrays.

ecgfoundry's :mod:`ecgfoundry.signals` implements *our* conventions (polyphase resampling, gap
bridging). An adapter must instead reproduce the published pipeline of its model, which may use an
FFT resampler (``scipy.signal.resample``) or linear interpolation; those are here. Every function
takes and returns the ``observed`` mask too, so unobserved samples stay zero and marked.
"""

from __future__ import annotations

import numpy as np

__all__ = ["fft_resample", "linear_resample", "resample_mask", "first_window", "as_numpy_batch"]


def as_numpy_batch(batch) -> tuple[np.ndarray, np.ndarray, float]:
    """``(signal float64, observed bool, fs)`` of an :class:`~ecgfoundry.batch.EcgBatch`, unobserved zeroed."""
    signal = batch.signal.detach().cpu().numpy() if hasattr(batch.signal, "detach") else np.asarray(batch.signal)
    observed = batch.observed.detach().cpu().numpy() if hasattr(batch.observed, "detach") else np.asarray(batch.observed)
    observed = observed.astype(bool)
    signal = np.where(observed, signal, 0.0).astype(np.float64)
    if not np.isfinite(signal).all():
        raise ValueError("batch has NaN or infinite observed samples; call ecgfoundry.signals.clean.sanitize first")
    return signal, observed, float(batch.fs)


def resample_mask(observed: np.ndarray, n_out: int) -> np.ndarray:
    """Observed mask after resampling the last axis to ``n_out`` samples (same time span).

    Output sample ``j`` sits at input position ``t = j * T / n_out``; it is observed only if the
    input samples on both sides of ``t`` (``floor`` and ``ceil``) are observed.
    """
    n_in = observed.shape[-1]
    if n_in == n_out:
        return observed.copy()
    pos = np.arange(n_out) * (n_in / n_out)
    lo = np.clip(np.floor(pos).astype(int), 0, n_in - 1)
    hi = np.clip(np.ceil(pos).astype(int), 0, n_in - 1)
    return observed[..., lo] & observed[..., hi]


def fft_resample(signal: np.ndarray, observed: np.ndarray, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """``scipy.signal.resample`` (Fourier method) along the last axis to ``n_out`` samples."""
    from scipy.signal import resample

    if signal.shape[-1] == n_out:
        return signal.copy(), observed.copy()
    obs = resample_mask(observed, n_out)
    out = resample(signal, n_out, axis=-1)
    return np.where(obs, out, 0.0), obs


def linear_resample(signal: np.ndarray, observed: np.ndarray, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation onto ``n_out`` samples spanning the first to the last input sample.

    Input sample ``i`` is placed at output position ``i * (n_out - 1) / (T - 1)`` and the output is
    read at ``0, 1, ..., n_out - 1`` (``np.linspace(0, n_out - 1, T)`` as knots), the form used by
    fairseq-signals' ``resample``.
    """
    n_in = signal.shape[-1]
    if n_in == n_out:
        return signal.copy(), observed.copy()
    if n_in < 2:
        raise ValueError("linear resampling needs at least 2 samples")
    pos = np.arange(n_out) * (n_in - 1) / max(n_out - 1, 1)  # output sample -> input position
    lo = np.clip(np.floor(pos).astype(int), 0, n_in - 2)
    frac = pos - lo
    out = signal[..., lo] * (1.0 - frac) + signal[..., lo + 1] * frac
    obs = observed[..., lo] & (observed[..., lo + 1] | (frac == 0))
    return np.where(obs, out, 0.0), obs


def first_window(signal: np.ndarray, observed: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` samples; shorter records are zero-padded at the end (padding unobserved)."""
    t = signal.shape[-1]
    if t >= n:
        return signal[..., :n].copy(), observed[..., :n].copy()
    pad = [(0, 0)] * (signal.ndim - 1) + [(0, n - t)]
    return np.pad(signal, pad), np.pad(observed, pad)
