"""Tests for ecgfoundry.signals.resample."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, strategies as st
from scipy.signal import resample_poly

from ecgfoundry.signals.resample import resample, resample_factors, resampled_observed
from .signal_strategies import SETTINGS, pairs

RATES = [100, 125, 128, 250, 257, 360, 400, 500, 1000]


def reference_observed(observed: np.ndarray, up: int, down: int) -> np.ndarray:
    """Naive loop over output samples, in exact fractions, of the documented mask rule."""
    rows = observed.reshape(-1, observed.shape[-1])
    n_in = rows.shape[-1]
    n_out = math.ceil(Fraction(n_in * up, down))
    reach = max(Fraction(1), Fraction(down, up))
    out = np.zeros((len(rows), n_out), bool)
    for j in range(n_out):
        t = Fraction(j * down, up)
        near = [i for i in range(n_in) if abs(i - t) < reach]
        out[:, j] = rows[:, near].all(axis=1)
    return out.reshape(observed.shape[:-1] + (n_out,))


@SETTINGS
@given(pairs(max_t=200), st.sampled_from(RATES), st.sampled_from(RATES))
def test_shapes_dtypes_and_zeros(pair, fs, fs_target):
    x, m = pair
    y, my = resample(x, m, fs, fs_target)
    ratio = Fraction(fs_target, fs)
    n_out = math.ceil(x.shape[-1] * ratio)
    assert y.shape == my.shape == x.shape[:-1] + (n_out,)
    assert n_out == resample_poly(np.zeros(x.shape[-1]), ratio.numerator, ratio.denominator).shape[-1]
    assert y.dtype == np.float32 and my.dtype == np.bool_
    assert np.all(y[~my] == 0)
    assert np.isfinite(y).all()


@SETTINGS
@given(pairs(max_t=120, max_ndim=3), st.sampled_from(RATES), st.sampled_from(RATES))
def test_mask_matches_naive_reference(pair, fs, fs_target):
    x, m = pair
    up, down = resample_factors(fs, fs_target)
    _, my = resample(x, m, fs, fs_target)
    np.testing.assert_array_equal(my, reference_observed(m, up, down))


@SETTINGS
@given(pairs(max_t=200, min_ndim=2), st.sampled_from(RATES), st.sampled_from(RATES))
def test_no_observation_is_invented(pair, fs, fs_target):
    x, m = pair
    up, down = resample_factors(fs, fs_target)
    _, my = resample(x, m, fs, fs_target)
    t_out = np.arange(my.shape[-1]) * down / up  # input position of every output sample
    rows_in, rows_out = m.reshape(-1, m.shape[-1]), my.reshape(-1, my.shape[-1])
    for row_in, row_out in zip(rows_in, rows_out):
        if not row_in.any():  # a fully unobserved lead stays unobserved
            assert not row_out.any()
        if row_in.all():  # and a fully observed lead loses nothing
            assert row_out.all()
        else:  # no gap vanishes, however short
            assert not row_out.all()
        missing = np.flatnonzero(~row_in)
        for i in missing:  # an unobserved sample blanks every output at its position
            assert not row_out[np.abs(t_out - i) < 1].any()


@SETTINGS
@given(pairs(max_t=150), st.sampled_from(RATES))
def test_same_rate_returns_unchanged_copies(pair, fs):
    x, m = pair
    y, my = resample(x, m, fs, float(fs))
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(my, m)
    y[...] = 7.0
    my[...] = ~my
    assert not np.shares_memory(y, x) and not np.shares_memory(my, m)


@SETTINGS
@given(pairs(min_ndim=3, max_ndim=4, max_t=150), st.sampled_from(RATES), st.sampled_from(RATES))
def test_batch_equals_records_one_by_one(pair, fs, fs_target):
    x, m = pair
    y, my = resample(x, m, fs, fs_target)
    flat_x, flat_m = x.reshape((-1,) + x.shape[-2:]), m.reshape((-1,) + m.shape[-2:])
    flat_y, flat_my = y.reshape((-1,) + y.shape[-2:]), my.reshape((-1,) + my.shape[-2:])
    for k in range(len(flat_x)):
        y1, m1 = resample(flat_x[k], flat_m[k], fs, fs_target)
        np.testing.assert_allclose(flat_y[k], y1, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(flat_my[k], m1)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("fs, fs_target", [(100, 125), (500, 100), (100, 500), (360, 500)])
def test_very_short_records(n, fs, fs_target):
    x = np.linspace(-1, 2, n, dtype=np.float32)[None].repeat(12, 0)
    y, my = resample(x, np.ones_like(x, bool), fs, fs_target)
    assert y.shape[-1] == math.ceil(n * Fraction(fs_target, fs))
    assert np.isfinite(y).all() and my.all()
    if n == 1:  # one sample: the resampled record is that constant
        np.testing.assert_allclose(y, x[:, :1].repeat(y.shape[-1], 1), rtol=1e-5)


def sinusoid(fs, seconds, freq, amp, phase=0.3):
    t = np.arange(int(round(fs * seconds))) / fs
    return amp * np.sin(2 * np.pi * freq * t + phase)


@pytest.mark.parametrize("fs, fs_target", [(500, 100), (100, 500), (360, 500), (500, 360)])
def test_sinusoid_keeps_frequency_and_amplitude(fs, fs_target):
    amp, freq = 1.3, 5.0
    x = np.tile(sinusoid(fs, 10, freq, amp), (12, 1)).astype(np.float32)
    y, my = resample(x, np.ones_like(x, bool), fs, fs_target)
    assert my.all()
    truth = sinusoid(fs_target, 10, freq, amp)
    inner = slice(fs_target // 2, -fs_target // 2)  # half a second away from the record's ends
    assert np.max(np.abs(y[:, inner] - truth[inner])) < 0.01 * amp
    spectrum = np.abs(np.fft.rfft(y[0], n=100 * y.shape[-1]))
    peak_hz = np.fft.rfftfreq(100 * y.shape[-1], 1 / fs_target)[np.argmax(spectrum)]
    assert abs(peak_hz - freq) < 0.01 * freq


def test_gap_edges_do_not_ring():
    """Observed samples next to a gap stay on the true curve (a zero fill would miss by ~0.1 mV)."""
    fs, fs_target = 500, 100
    t = np.arange(10 * fs) / fs
    x = (np.sin(2 * np.pi * 3 * t) + 0.8 * np.sin(2 * np.pi * 0.3 * t) + 1.0)[None].astype(np.float32)
    m = np.ones_like(x, bool)
    m[0, 1203:1390] = False
    x[~m] = 0
    y, my = resample(x, m, fs, fs_target)
    t_out = np.arange(10 * fs_target) / fs_target
    truth = np.sin(2 * np.pi * 3 * t_out) + 0.8 * np.sin(2 * np.pi * 0.3 * t_out) + 1.0
    assert not my[0, 241:278].any() and my[0, 200:240].all() and my[0, 279:320].all()
    inner = np.zeros_like(my[0])
    inner[50:-50] = True
    assert np.max(np.abs(y[0] - truth)[my[0] & inner]) < 0.01


def test_unobserved_values_are_ignored():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 12, 400)).astype(np.float32)
    m = rng.random(x.shape) > 0.2
    clean = np.where(m, x, 0).astype(np.float32)
    dirty = np.where(m, x, 1e6).astype(np.float32)
    np.testing.assert_array_equal(resample(clean, m, 500, 100)[0], resample(dirty, m, 500, 100)[0])


@pytest.mark.parametrize("fs, fs_target, up, down", [
    (500, 100, 1, 5), (100, 500, 5, 1), (360, 500, 25, 18), (1000 / 3, 1000, 3, 1), (257, 500, 500, 257)])
def test_factors(fs, fs_target, up, down):
    assert resample_factors(fs, fs_target) == (up, down)


@pytest.mark.parametrize("fs, fs_target", [(1009, 1), (1000.3, 1)])
def test_unrepresentable_ratio_is_an_error(fs, fs_target):
    with pytest.raises(ValueError, match="cannot resample"):
        resample(np.zeros((12, 50), np.float32), np.ones((12, 50), bool), fs, fs_target)


@pytest.mark.parametrize("fs, fs_target, name", [
    (0, 100, "fs"), (-500, 100, "fs"), (float("nan"), 100, "fs"), (500, 0, "fs_target"),
    (500, float("inf"), "fs_target")])
def test_bad_rates(fs, fs_target, name):
    with pytest.raises(ValueError, match=f"^{name} must be"):
        resample(np.zeros((12, 50), np.float32), np.ones((12, 50), bool), fs, fs_target)


def test_bad_inputs():
    x, m = np.zeros((12, 50), np.float32), np.ones((12, 50), bool)
    with pytest.raises(ValueError, match="shape"):
        resample(x, m[:, :40], 500, 100)
    with pytest.raises(TypeError, match="bool"):
        resample(x, m.astype(np.float32), 500, 100)
    with pytest.raises(ValueError, match="sanitize"):
        bad = x.copy()
        bad[3, 7] = np.nan
        resample(bad, m, 500, 100)
    with pytest.raises(ValueError, match="T = 0"):
        resample(x[:, :0], m[:, :0], 500, 100)


def test_resampled_observed_edges_are_not_gaps():
    """Output positions past the last input sample are extrapolation of observed data, not gaps."""
    m = np.ones((1, 10), bool)
    out = resampled_observed(m, 5, 1)
    assert out.shape == (1, 50) and out.all()
