"""Polyphase resampling of ``(..., 12, T)`` signals that never invents observed samples."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

from ecgfoundry.signals._gaps import bridge_gaps
from ecgfoundry.signals._validate import check_pair, check_rate

MAX_DENOMINATOR = 1000
"""Largest ``up`` / ``down`` factor considered when turning ``fs_target / fs`` into a fraction."""

RATIO_RTOL = 1e-6
"""Relative tolerance between ``up / down`` and ``fs_target / fs``; a worse fit is an error."""


def resample_factors(fs: float, fs_target: float) -> tuple[int, int]:
    """Integer ``(up, down)`` with ``up / down`` equal to ``fs_target / fs``.

    Parameters
    ----------
    fs, fs_target : float, Hz
        Current and wanted sampling rates.

    Returns
    -------
    up, down : int
        Coprime factors, each at most ``MAX_DENOMINATOR`` (1000) on the ``down`` side.

    Raises
    ------
    ValueError
        If a rate is not positive, or no fraction with denominator <= 1000 matches the ratio within
        a relative error of ``RATIO_RTOL``.

    Examples
    --------
    >>> resample_factors(500, 100), resample_factors(360, 500), resample_factors(257, 257)
    ((1, 5), (25, 18), (1, 1))
    """
    fs = check_rate(fs, "fs")
    fs_target = check_rate(fs_target, "fs_target")
    ratio = fs_target / fs
    frac = Fraction(ratio).limit_denominator(MAX_DENOMINATOR)
    if frac.numerator == 0 or abs(frac.numerator / frac.denominator - ratio) > RATIO_RTOL * ratio:
        raise ValueError(
            f"cannot resample {fs} Hz -> {fs_target} Hz: the ratio {ratio!r} has no fraction up/down "
            f"with down <= {MAX_DENOMINATOR} within relative error {RATIO_RTOL}")
    return frac.numerator, frac.denominator


def resampled_observed(observed: np.ndarray, up: int, down: int) -> np.ndarray:
    """The observed mask after resampling by ``up / down`` along the last axis.

    Output sample ``j`` sits at input position ``t = j * down / up``. It is observed only if every
    input sample ``i`` with ``|i - t| < max(1, down / up)`` is observed (positions outside
    ``0 .. T-1`` are record edges, not gaps, and do not count). When upsampling this is the two
    samples around ``t`` (``floor(t)`` and ``ceil(t)``); when downsampling it is every input sample
    nearer than one output step, so even a one-sample gap removes the output sample(s) around it.

    Parameters
    ----------
    observed : ndarray of shape (..., T), bool
    up, down : int
        Resampling factors, as from :func:`resample_factors`.

    Returns
    -------
    ndarray of shape (..., ceil(T * up / down)), bool
    """
    n_in = observed.shape[-1]
    n_out = -(-n_in * up // down)
    reach = max(up, down)  # max(1, down / up) in units of 1 / up input samples
    pos = np.arange(n_out, dtype=np.int64) * down  # j * down = t * up
    lo = np.clip((pos - reach) // up + 1, 0, n_in - 1)  # smallest i with i * up > t * up - reach
    hi = np.clip((pos + reach - 1) // up, 0, n_in - 1)  # largest i with i * up < t * up + reach
    missing = np.concatenate(
        [np.zeros(observed.shape[:-1] + (1,), dtype=np.int64), np.cumsum(~observed, axis=-1)], axis=-1)
    return (missing[..., hi + 1] - missing[..., lo]) == 0


def resample(signal, observed, fs: float, fs_target: float) -> tuple[np.ndarray, np.ndarray]:
    """Resample along the last axis with a polyphase filter (``scipy.signal.resample_poly``).

    Parameters
    ----------
    signal : ndarray of shape (..., 12, T), mV
        Any leading shape works; only the last axis is resampled. Unobserved samples are ignored.
    observed : ndarray of shape (..., 12, T), bool
        True where the sample was measured.
    fs : float, Hz
        Sampling rate of ``signal``.
    fs_target : float, Hz
        Wanted sampling rate. ``fs_target / fs`` must be a fraction ``up / down`` with
        ``down <= 1000`` (see :func:`resample_factors`), else ``ValueError``.

    Returns
    -------
    signal : ndarray of shape (..., 12, ceil(T * up / down)), float32, mV
    observed : ndarray of the same shape, bool

    Notes
    -----
    * Before filtering, each unobserved run inside a lead is bridged by a straight line between its
      observed neighbours (runs at a lead's start or end hold the nearest observed value), so a gap
      leaves no step for the anti-aliasing filter to ring on. The record's own ends are padded
      with ``padtype="line"`` for the same reason (``"mean"``, i.e. a constant, when ``T = 1``).
    * The output mask never invents observations: see :func:`resampled_observed` for the rule.
      Observed outputs next to a gap are computed partly from the bridge (the filter reaches
      ``10 * max(up, down) / up`` input samples each side); they are kept, because the bridge is
      continuous with the observed values it joins.
    * Unobserved outputs are exactly 0. With ``fs_target == fs`` copies are returned unchanged.

    Examples
    --------
    >>> x = np.zeros((12, 5000), np.float32); m = np.ones_like(x, bool)
    >>> y, my = resample(x, m, 500, 100)
    >>> y.shape, y.dtype, bool(my.all())
    ((12, 1000), dtype('float32'), True)
    """
    up, down = resample_factors(fs, fs_target)
    x, obs = check_pair(signal, observed)
    if x.shape[-1] == 0:
        raise ValueError("cannot resample a signal with no samples (T = 0)")
    if up == down:
        return x.astype(np.float32), obs
    padtype = "line" if x.shape[-1] > 1 else "mean"  # a line through one sample divides by zero
    y = resample_poly(bridge_gaps(x, obs), up, down, axis=-1, padtype=padtype)
    obs_out = resampled_observed(obs, up, down)
    return np.where(obs_out, y, 0.0).astype(np.float32), obs_out
