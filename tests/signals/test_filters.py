"""Tests for ecgfoundry.signals.filters."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from ecgfoundry.signals.filters import bandpass, notch
from .signal_strategies import SETTINGS, pairs

FS = 500.0


def sine(freq, amp=1.0, seconds=20.0, fs=FS, phase=0.4):
    t = np.arange(int(seconds * fs)) / fs
    return amp * np.sin(2 * np.pi * freq * t + phase)


def amplitude_at(x, freq, fs=FS):
    """Amplitude of the ``freq`` component of ``x`` (least-squares fit of a sine and a cosine)."""
    t = np.arange(x.shape[-1]) / fs
    basis = np.stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t), np.ones_like(t)], 1)
    coef, *_ = np.linalg.lstsq(basis, x, rcond=None)
    return float(np.hypot(coef[0], coef[1]))


def as_record(x):
    x = np.tile(x.astype(np.float32), (12, 1))
    return x, np.ones_like(x, bool)


INNER = slice(int(5 * FS), int(15 * FS))  # away from the filters' edge transients


def test_bandpass_removes_drift_and_keeps_10hz():
    x, m = as_record(1.5 * np.sin(2 * np.pi * 0.1 * np.arange(int(20 * FS)) / FS) + 0.7 + sine(10, 0.5))
    y, my = bandpass(x, m, FS)
    assert my.all()
    residual = y[:, INNER] - sine(10, 0.5)[INNER]
    assert np.max(np.abs(residual)) < 0.01 * 0.5  # the 0.1 Hz drift and offset are gone, 10 Hz intact


def test_lowpass_only_and_highpass_only():
    x, m = as_record(sine(5, 1.0) + sine(100, 1.0))
    low, _ = bandpass(x, m, FS, low=None, high=40.0)
    assert amplitude_at(low[0, INNER], 100) < 0.01 and abs(amplitude_at(low[0, INNER], 5) - 1) < 0.01
    high, _ = bandpass(x, m, FS, low=20.0, high=None)
    assert amplitude_at(high[0, INNER], 5) < 0.01 and abs(amplitude_at(high[0, INNER], 100) - 1) < 0.01


@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_notch_removes_mains_and_keeps_10hz(mains):
    x, m = as_record(sine(mains, 1.0) + sine(10, 0.5))
    y, my = notch(x, m, FS, freq=mains)
    assert my.all()
    assert amplitude_at(y[0, INNER], mains) < 0.01
    assert abs(amplitude_at(y[0, INNER], 10) - 0.5) < 0.005


@SETTINGS
@given(pairs(min_t=60, max_t=400), st.sampled_from([100.0, 250.0, 360.0, 500.0]))
def test_shape_mask_and_zeros(pair, fs):
    x, m = pair
    for y, my in (bandpass(x, m, fs, low=0.5, high=min(40.0, fs / 2 - 1)), notch(x, m, fs, freq=fs / 5)):
        assert y.shape == x.shape and y.dtype == np.float32
        np.testing.assert_array_equal(my, m)
        assert np.all(y[~m] == 0)
        assert np.isfinite(y).all()


@SETTINGS
@given(pairs(min_ndim=3, max_ndim=3, min_t=60, max_t=300))
def test_leads_and_records_are_filtered_independently(pair):
    x, m = pair
    y, _ = bandpass(x, m, FS)
    for k in range(x.shape[0]):
        for lead in range(x.shape[1]):
            one, _ = bandpass(x[k, lead][None], m[k, lead][None], FS)
            np.testing.assert_allclose(y[k, lead], one[0], atol=1e-5)


def test_unobserved_values_are_ignored_and_gaps_stay_zero():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 12, 2000)).astype(np.float32)
    m = np.ones_like(x, bool)
    m[0, 3, 500:900] = False
    m[1, 7] = False
    clean = np.where(m, x, 0).astype(np.float32)
    dirty = np.where(m, x, 1e4).astype(np.float32)
    for f in (lambda a: bandpass(a, m, FS), lambda a: notch(a, m, FS)):
        y_clean, _ = f(clean)
        np.testing.assert_array_equal(y_clean, f(dirty)[0])
        assert not y_clean[0, 3, 500:900].any() and not y_clean[1, 7].any()


def test_gap_in_a_slow_wave_does_not_ring_into_observed_samples():
    """A gap bridged by a line leaves the observed samples around it near the gap-free result."""
    x = (sine(1.0, 1.0) + 0.5).astype(np.float32)[None]
    m = np.ones_like(x, bool)
    m[0, 4000:4100] = False
    ref, _ = bandpass(x, np.ones_like(m), FS)
    y, _ = bandpass(np.where(m, x, 0).astype(np.float32), m, FS)
    assert np.max(np.abs((y - ref)[m])) < 0.05


@pytest.mark.parametrize("kwargs, match", [
    (dict(high=250.0), "high = 250.0 Hz must be below the Nyquist"),
    (dict(high=300.0), "^high"),
    (dict(low=None, high=None), "low, high or both"),
    (dict(low=0.0), "^low"),
    (dict(low=-1.0), "^low"),
    (dict(low=50.0, high=40.0), "low = 50.0 Hz must be below high"),
    (dict(low=260.0, high=None), "^low"),
    (dict(order=0), "order"),
    (dict(order=2.5), "order"),
])
def test_bandpass_bad_parameters(kwargs, match):
    x, m = as_record(sine(10, seconds=2))
    with pytest.raises(ValueError, match=match):
        bandpass(x, m, FS, **kwargs)


@pytest.mark.parametrize("kwargs, match", [
    (dict(freq=250.0), "^freq"), (dict(freq=0.0), "^freq"), (dict(quality=0.0), "^quality"),
    (dict(quality=-3.0), "^quality"),
])
def test_notch_bad_parameters(kwargs, match):
    x, m = as_record(sine(10, seconds=2))
    with pytest.raises(ValueError, match=match):
        notch(x, m, FS, **kwargs)


@pytest.mark.parametrize("f, padlen", [
    (lambda x, m: bandpass(x, m, FS), 27),
    (lambda x, m: bandpass(x, m, FS, low=None), 15),
    (lambda x, m: notch(x, m, FS), 9),
])
def test_records_shorter_than_the_edge_padding_are_an_error(f, padlen):
    x, m = as_record(sine(10, seconds=1))
    with pytest.raises(ValueError, match=f"longer than {padlen} samples.*T = {padlen}"):
        f(x[:, :padlen], m[:, :padlen])
    y, _ = f(x[:, :padlen + 1], m[:, :padlen + 1])  # one more sample is enough
    assert y.shape == (12, padlen + 1)
