"""Tests for ecgfoundry.signals.normalize."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from ecgfoundry.signals.normalize import minmax, zscore
from .signal_strategies import SETTINGS, pairs


def records(a):
    return a.reshape((-1,) + a.shape[-2:])


@SETTINGS
@given(pairs(min_ndim=2))
def test_minmax_range_is_exactly_0_1_per_record(pair):
    x, m = pair
    y, my = minmax(x, m)
    assert y.dtype == np.float32 and my.dtype == np.bool_
    np.testing.assert_array_equal(my, m)
    assert np.all(y[~m] == 0)
    for xr, mr, yr in zip(records(x), records(m), records(y)):
        if mr.any() and xr[mr].max() > xr[mr].min():
            assert yr[mr].min() == 0.0 and yr[mr].max() == 1.0
        else:  # constant or empty record
            assert not yr.any()


@SETTINGS
@given(pairs(min_ndim=2))
def test_minmax_is_idempotent(pair):
    y, my = minmax(*pair)
    y2, my2 = minmax(y, my)
    np.testing.assert_array_equal(y2, y)
    np.testing.assert_array_equal(my2, my)


@SETTINGS
@given(pairs(min_ndim=2), st.floats(0.1, 10), st.floats(-5, 5))
def test_minmax_ignores_gain_and_offset(pair, gain, offset):
    x, m = pair
    shifted = np.where(m, gain * x + offset, 0).astype(np.float32)
    np.testing.assert_allclose(minmax(shifted, m)[0], minmax(x, m)[0], atol=1e-4)


def test_minmax_uses_all_leads_of_a_record_together():
    x = np.zeros((2, 12, 4), np.float32)
    x[0, 0] = [0, 1, 2, 4]  # record 0: lead I spans 0..4, lead II spans 0..2
    x[0, 1] = [0, 2, 1, 0]
    x[1, 5] = [-1, 1, 0, 0]  # record 1 is scaled on its own
    y, _ = minmax(x, np.ones_like(x, bool))
    assert y[0, 0].tolist() == [0.0, 0.25, 0.5, 1.0]
    assert y[0, 1].tolist() == [0.0, 0.5, 0.25, 0.0]
    assert y[1, 5].tolist() == [0.0, 1.0, 0.5, 0.5]
    assert y[1, 0].tolist() == [0.5] * 4


def test_minmax_constant_record_maps_to_zero_without_nan():
    x = np.full((3, 12, 10), 2.5, np.float32)
    with np.errstate(all="raise"):
        y, _ = minmax(x, np.ones_like(x, bool))
    assert not y.any()


@SETTINGS
@given(pairs(kinds=("all", "dropout", "spans", "dead_leads")))
def test_zscore_gives_mean_0_std_1_per_lead(pair):
    x, m = pair
    y, my = zscore(x, m)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(my, m)
    assert np.all(y[~m] == 0)
    for xr, mr, yr in zip(x.reshape(-1, x.shape[-1]), m.reshape(-1, m.shape[-1]), y.reshape(-1, y.shape[-1])):
        if mr.sum() >= 2 and xr[mr].std() > 1e-3:
            assert abs(yr[mr].mean()) < 1e-4
            assert abs(yr[mr].std() - 1) < 1e-4
        elif not mr.any():
            assert not yr.any()


@SETTINGS
@given(pairs())
def test_zscore_twice_changes_nothing_more(pair):
    y, my = zscore(*pair)
    np.testing.assert_allclose(zscore(y, my)[0], y, atol=1e-4)


def test_zscore_known_answer_and_flat_leads():
    x = np.zeros((12, 4), np.float32)
    x[0] = [1, 2, 3, 4]
    x[1] = [3, 3, 3, 3]  # flat: maps to zeros
    m = np.ones_like(x, bool)
    m[2] = False  # no observed sample: stays zero
    y, _ = zscore(x, m)
    np.testing.assert_allclose(y[0], (x[0] - 2.5) / np.sqrt(1.25), rtol=1e-6)
    assert not y[1].any() and not y[2].any()


def test_zscore_eps_floors_the_divisor():
    x = np.array([[0.0, 1e-8, 0.0, 1e-8]], np.float32)  # std 5e-9 < eps
    y, _ = zscore(x, np.ones_like(x, bool), eps=1e-6)
    np.testing.assert_allclose(y, (x - 5e-9) / 1e-6, rtol=1e-4)


@pytest.mark.parametrize("eps", [0.0, -1.0, float("nan")])
def test_zscore_bad_eps(eps):
    with pytest.raises(ValueError, match="eps"):
        zscore(np.zeros((12, 5), np.float32), np.ones((12, 5), bool), eps=eps)


def test_bad_inputs():
    x, m = np.zeros((12, 5), np.float32), np.ones((12, 5), bool)
    with pytest.raises(ValueError, match="at least 2 axes"):
        minmax(x[0], m[0])
    with pytest.raises(ValueError, match="sanitize"):
        minmax(np.full((12, 5), np.inf, np.float32), m)
    with pytest.raises(TypeError, match="bool"):
        zscore(x, m.astype(int))
