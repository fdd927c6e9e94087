"""Zero-phase Butterworth band-pass and IIR notch filters that keep unobserved samples at zero."""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, filtfilt, iirnotch, sosfiltfilt

from ecgfoundry.signals._gaps import bridge_gaps
from ecgfoundry.signals._validate import check_pair, check_rate


def _sos_padlen(sos: np.ndarray) -> int:
    """The edge padding ``sosfiltfilt`` uses by default for ``sos`` (its ``padlen``)."""
    trailing_zeros = min((sos[:, 2] == 0).sum(), (sos[:, 5] == 0).sum())
    return 3 * (2 * len(sos) + 1 - int(trailing_zeros))


def _check_length(n_samples: int, padlen: int, what: str) -> None:
    if n_samples <= padlen:
        raise ValueError(
            f"{what} needs records longer than {padlen} samples (its zero-phase edge padding); "
            f"got T = {n_samples}. Filter the longer record before cropping, or skip filtering.")


def _cutoff(value, name: str, nyquist: float) -> float:
    cut = check_rate(value, name)
    if cut >= nyquist:
        raise ValueError(f"{name} = {cut} Hz must be below the Nyquist frequency fs/2 = {nyquist} Hz")
    return cut


def bandpass(signal, observed, fs: float, low: float | None = 0.5, high: float | None = 40.0,
             order: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Zero-phase Butterworth band-pass (or high-pass / low-pass) filter along the last axis.

    Parameters
    ----------
    signal : ndarray of shape (..., 12, T), mV
        Unobserved samples are ignored.
    observed : ndarray of shape (..., 12, T), bool
    fs : float, Hz
        Sampling rate.
    low : float or None, Hz
        Lower cut-off (removes baseline wander). None gives a low-pass filter at ``high``.
    high : float or None, Hz
        Upper cut-off, strictly below ``fs / 2``. None gives a high-pass filter at ``low``.
    order : int
        Butterworth order of the design; ``sosfiltfilt`` runs it forward and backward, so the
        magnitude response is squared and the phase is zero.

    Returns
    -------
    signal : ndarray of shape (..., 12, T), float32, mV
        Filtered; exactly 0 where unobserved.
    observed : ndarray of shape (..., 12, T), bool
        A copy of the input mask (a zero-phase filter moves no sample in time).

    Raises
    ------
    ValueError
        If both cut-offs are None, a cut-off is not positive or not below ``fs / 2`` (the message
        names the parameter), ``low >= high``, ``order < 1``, or ``T`` is not longer than the
        filter's edge padding (``sosfiltfilt``'s ``padlen``, 27 samples for the default order 4
        band-pass). Short records are an error rather than a silent fallback to a shorter padding:
        a record that short cannot hold the filter's response, so its output would be edge effect.

    Notes
    -----
    Gaps (unobserved runs) are bridged by a straight line between their observed neighbours
    before filtering, so the filter sees no step at a gap's edge; the bridge is zeroed again
    afterwards. Observed samples within the filter's reach of a gap are therefore computed partly
    from the bridge.

    Examples
    --------
    >>> fs = 500.0; t = np.arange(5000) / fs
    >>> x = (np.sin(2 * np.pi * 10 * t) + 2.0)[None].astype(np.float32)  # 10 Hz on a 2 mV offset
    >>> y, m = bandpass(x, np.ones_like(x, bool), fs)
    >>> bool(abs(y[0, 1000:4000].mean()) < 1e-3), bool(abs(y[0, 1000:4000].std() * 2 ** 0.5 - 1) < 0.01)
    (True, True)
    """
    fs = check_rate(fs, "fs")
    nyquist = fs / 2
    if low is None and high is None:
        raise ValueError("bandpass needs low, high or both; got low=None and high=None")
    if isinstance(order, bool) or int(order) != order or order < 1:
        raise ValueError(f"order must be a positive integer, got {order!r}")
    low = None if low is None else _cutoff(low, "low", nyquist)
    high = None if high is None else _cutoff(high, "high", nyquist)
    if low is not None and high is not None:
        if low >= high:
            raise ValueError(f"low = {low} Hz must be below high = {high} Hz")
        sos = butter(int(order), [low, high], btype="bandpass", fs=fs, output="sos")
    elif high is None:
        sos = butter(int(order), low, btype="highpass", fs=fs, output="sos")
    else:
        sos = butter(int(order), high, btype="lowpass", fs=fs, output="sos")
    x, obs = check_pair(signal, observed)
    _check_length(x.shape[-1], _sos_padlen(sos), "this bandpass")
    y = sosfiltfilt(sos, bridge_gaps(x, obs), axis=-1)
    return np.where(obs, y, 0.0).astype(np.float32), obs


def notch(signal, observed, fs: float, freq: float = 50.0,
          quality: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """Zero-phase IIR notch (``scipy.signal.iirnotch`` + ``filtfilt``) against mains interference.

    Parameters
    ----------
    signal : ndarray of shape (..., 12, T), mV
        Unobserved samples are ignored.
    observed : ndarray of shape (..., 12, T), bool
    fs : float, Hz
        Sampling rate.
    freq : float, Hz
        Frequency to remove, strictly between 0 and ``fs / 2`` (50 Hz in Europe, 60 Hz in the US).
    quality : float
        Quality factor ``freq / bandwidth`` of the notch (-3 dB bandwidth; 30 gives ~1.7 Hz at 50 Hz).

    Returns
    -------
    signal : ndarray of shape (..., 12, T), float32, mV
        Filtered; exactly 0 where unobserved.
    observed : ndarray of shape (..., 12, T), bool
        A copy of the input mask.

    Raises
    ------
    ValueError
        If ``freq`` is not in ``(0, fs/2)``, ``quality <= 0``, or ``T <= 9`` (the ``filtfilt``
        edge padding; an error, not a fallback, as for :func:`bandpass`).

    Notes
    -----
    Gaps are bridged and re-zeroed as in :func:`bandpass`.
    """
    fs = check_rate(fs, "fs")
    freq = _cutoff(freq, "freq", fs / 2)
    quality = check_rate(quality, "quality", unit="dimensionless")
    b, a = iirnotch(freq, quality, fs=fs)
    x, obs = check_pair(signal, observed)
    _check_length(x.shape[-1], 3 * max(len(a), len(b)), "this notch")
    y = filtfilt(b, a, bridge_gaps(x, obs), axis=-1)
    return np.where(obs, y, 0.0).astype(np.float32), obs
