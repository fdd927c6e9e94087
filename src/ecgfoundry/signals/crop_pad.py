"""Cropping or zero-padding ``(..., 12, T)`` signals to a fixed number of samples."""

from __future__ import annotations

import operator

import numpy as np

from ecgfoundry.signals._validate import check_pair

MODES = ("first", "center", "random")


def crop_pad(signal, observed, n_samples: int, mode: str = "first",
             rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Crop or pad the last axis to exactly ``n_samples``.

    Parameters
    ----------
    signal : ndarray of shape (..., 12, T), mV
        Unobserved samples are ignored.
    observed : ndarray of shape (..., 12, T), bool
    n_samples : int
        Wanted length ``N >= 1``.
    mode : {"first", "center", "random"}
        Where the kept window (``T > N``) or the original samples (``T < N``) go:

        * ``"first"``: keep samples ``0 .. N-1``; pad at the end. This is the SCAR protocol.
        * ``"center"``: keep the middle ``N`` (extra odd sample dropped at the end); pad both
          sides, the extra odd sample of padding at the end.
        * ``"random"``: a uniform offset, drawn from ``rng`` independently for every record
          (every ``(12, T)`` slice of the leading axes), shared by the leads of a record.
    rng : numpy.random.Generator, optional
        Required for ``mode="random"``; unused otherwise.

    Returns
    -------
    signal : ndarray of shape (..., 12, N), float32, mV
    observed : ndarray of shape (..., 12, N), bool
        Padded samples are 0 and unobserved.

    Raises
    ------
    ValueError
        For an unknown ``mode`` or ``n_samples < 1``.
    TypeError
        If ``mode="random"`` and ``rng`` is not a ``numpy.random.Generator``.

    Examples
    --------
    >>> x = np.arange(5, dtype=np.float32)[None]; m = np.ones_like(x, bool)
    >>> crop_pad(x, m, 3, "center")[0].tolist(), crop_pad(x, m, 7)[1].tolist()
    ([[1.0, 2.0, 3.0]], [[True, True, True, True, True, False, False]])
    """
    try:
        n_out = operator.index(n_samples)
    except TypeError:
        raise TypeError(f"n_samples must be an integer, got {n_samples!r}") from None
    if n_out < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "random" and not isinstance(rng, np.random.Generator):
        raise TypeError("mode='random' needs rng, a numpy.random.Generator (e.g. np.random.default_rng(seed))")
    x, obs = check_pair(signal, observed)
    n_in = x.shape[-1]
    records = x.shape[:-2]  # one offset per (12, T) slice; a 1-D or 2-D input is one record

    # Output sample k takes input sample k + offset (0 and unobserved where that is outside 0..T-1).
    if mode == "first":
        offset = np.zeros(records, dtype=np.int64)
    elif mode == "center":
        offset = np.full(records, (n_in - n_out) // 2 if n_in >= n_out else -((n_out - n_in) // 2),
                         dtype=np.int64)
    elif n_in >= n_out:
        offset = rng.integers(0, n_in - n_out, size=records, endpoint=True)
    else:
        offset = -rng.integers(0, n_out - n_in, size=records, endpoint=True)

    lead_axes = x.ndim - len(records)  # 1 or 2 trailing axes share the record's offset
    src = offset.reshape(records + (1,) * lead_axes) + np.arange(n_out)
    valid = (src >= 0) & (src < n_in)
    if n_in == 0:
        shape = x.shape[:-1] + (n_out,)
        return np.zeros(shape, np.float32), np.zeros(shape, bool)
    src = np.broadcast_to(np.clip(src, 0, n_in - 1), x.shape[:-1] + (n_out,))
    valid = np.broadcast_to(valid, src.shape)
    obs_out = np.take_along_axis(obs, src, axis=-1) & valid
    out = np.where(obs_out, np.take_along_axis(x, src, axis=-1), 0.0)
    return out.astype(np.float32), obs_out
