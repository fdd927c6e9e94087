"""Tests for ecgfoundry.signals.crop_pad."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from ecgfoundry.signals.crop_pad import crop_pad
from .signal_strategies import SETTINGS, pairs

modes = st.sampled_from(["first", "center", "random"])
lengths = st.integers(1, 400)


def run(x, m, n, mode, seed=0):
    return crop_pad(x, m, n, mode, rng=np.random.default_rng(seed) if mode == "random" else None)


def reference(x, m, n, mode):
    """Slicing / np.pad version of the deterministic modes."""
    t = x.shape[-1]
    if t >= n:
        start = 0 if mode == "first" else (t - n) // 2
        return x[..., start:start + n], m[..., start:start + n]
    left = 0 if mode == "first" else (n - t) // 2
    width = [(0, 0)] * (x.ndim - 1) + [(left, n - t - left)]
    return np.pad(x, width), np.pad(m, width)


@SETTINGS
@given(pairs(), lengths, modes)
def test_shape_dtype_and_zeros(pair, n, mode):
    x, m = pair
    y, my = run(x, m, n, mode)
    assert y.shape == my.shape == x.shape[:-1] + (n,)
    assert y.dtype == np.float32 and my.dtype == np.bool_
    assert np.all(y[~my] == 0)
    assert my.sum() <= m.sum()


@SETTINGS
@given(pairs(), lengths, st.sampled_from(["first", "center"]))
def test_deterministic_modes_match_slicing(pair, n, mode):
    x, m = pair
    y, my = crop_pad(x, m, n, mode)
    ry, rm = reference(x, m, n, mode)
    np.testing.assert_array_equal(y, ry)
    np.testing.assert_array_equal(my, rm)


@SETTINGS
@given(pairs(), lengths, modes, st.integers(0, 2**16))
def test_idempotent(pair, n, mode, seed):
    x, m = pair
    y, my = run(x, m, n, mode, seed)
    y2, my2 = run(y, my, n, mode, seed + 1)
    np.testing.assert_array_equal(y2, y)
    np.testing.assert_array_equal(my2, my)


@SETTINGS
@given(pairs(min_ndim=2), lengths, st.integers(0, 2**16))
def test_random_is_one_window_per_record(pair, n, seed):
    """Every record is its input shifted by one offset shared by its leads; padding is unobserved."""
    x, m = pair
    y, my = crop_pad(x, m, n, "random", rng=np.random.default_rng(seed))
    t = x.shape[-1]
    rec_x, rec_m = x.reshape((-1,) + x.shape[-2:]), m.reshape((-1,) + m.shape[-2:])
    rec_y, rec_my = y.reshape((-1,) + y.shape[-2:]), my.reshape((-1,) + my.shape[-2:])
    for xi, mi, yi, myi in zip(rec_x, rec_m, rec_y, rec_my):
        matches = []
        for offset in range(min(0, t - n), max(0, t - n) + 1):
            src = np.arange(n) + offset
            inside = (src >= 0) & (src < t)
            want_m = np.zeros_like(myi)
            want_m[:, inside] = mi[:, src[inside]]
            want_y = np.where(want_m, np.pad(xi, [(0, 0), (n, n)])[:, src + n], 0)
            if np.array_equal(myi, want_m) and np.array_equal(yi, want_y):
                matches.append(offset)
        assert matches


def test_random_offsets_differ_between_records_and_cover_the_range():
    x = np.tile(np.arange(11, dtype=np.float32), (200, 12, 1))
    m = np.ones_like(x, bool)
    y, _ = crop_pad(x, m, 10, "random", rng=np.random.default_rng(0))
    starts = y[:, 0, 0]
    assert set(starts.tolist()) == {0.0, 1.0}  # both possible offsets occur
    assert np.all(y == y[:, :1, :])  # leads of one record share the offset
    y2, m2 = crop_pad(x[..., :5], m[..., :5], 8, "random", rng=np.random.default_rng(0))
    assert set(np.argmax(m2[:, 0], axis=-1).tolist()) == {0, 1, 2, 3}  # every pad split occurs


def test_random_is_reproducible_with_the_same_seed():
    x = np.random.default_rng(3).normal(size=(6, 12, 300)).astype(np.float32)
    m = np.ones_like(x, bool)
    a = crop_pad(x, m, 100, "random", rng=np.random.default_rng(42))
    b = crop_pad(x, m, 100, "random", rng=np.random.default_rng(42))
    np.testing.assert_array_equal(a[0], b[0])


def test_first_is_the_scar_protocol():
    x = np.arange(12 * 5000, dtype=np.float32).reshape(12, 5000)
    y, my = crop_pad(x, np.ones_like(x, bool), 2500)
    np.testing.assert_array_equal(y, x[:, :2500])
    assert my.all()


def test_center_padding_puts_the_odd_sample_at_the_end():
    x, m = np.ones((1, 2), np.float32), np.ones((1, 2), bool)
    y, my = crop_pad(x, m, 5, "center")
    assert my.tolist() == [[False, True, True, False, False]]
    assert y.tolist() == [[0.0, 1.0, 1.0, 0.0, 0.0]]


def test_empty_input_gives_all_padding():
    y, my = crop_pad(np.zeros((12, 0), np.float32), np.zeros((12, 0), bool), 4, "center")
    assert y.shape == (12, 4) and not my.any() and not y.any()


def test_bad_parameters():
    x, m = np.zeros((12, 50), np.float32), np.ones((12, 50), bool)
    with pytest.raises(TypeError, match="Generator"):
        crop_pad(x, m, 10, "random")
    with pytest.raises(TypeError, match="Generator"):
        crop_pad(x, m, 10, "random", rng=np.random.RandomState(0))
    with pytest.raises(ValueError, match="mode"):
        crop_pad(x, m, 10, "middle")
    with pytest.raises(ValueError, match="n_samples"):
        crop_pad(x, m, 0)
    with pytest.raises(TypeError, match="n_samples"):
        crop_pad(x, m, 10.5)
    with pytest.raises(ValueError, match="shape"):
        crop_pad(x, m[:1], 10)
