"""Tests for ecgfoundry.signals.clean."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from ecgfoundry.signals.clean import sanitize
from .signal_strategies import SETTINGS, pairs


@st.composite
def dirty_pairs(draw):
    """Pairs whose signal has NaN / inf sprinkled over it and arbitrary values where unobserved."""
    x, m = draw(pairs())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = x.astype(np.float64)
    x[~m] = rng.normal(size=(~m).sum())
    bad = rng.random(x.shape) < draw(st.sampled_from([0.0, 0.05, 0.5]))
    x[bad] = rng.choice([np.nan, np.inf, -np.inf, 1e300], size=bad.sum())
    return x, m


@SETTINGS
@given(dirty_pairs())
def test_output_is_finite_float32_and_zero_where_unobserved(pair):
    x, m = pair
    y, my = sanitize(x, m)
    assert y.dtype == np.float32 and my.dtype == np.bool_ and y.shape == my.shape == x.shape
    assert np.isfinite(y).all()
    assert np.all(y[~my] == 0)
    assert not np.any(my & ~m)  # nothing becomes observed
    with np.errstate(over="ignore"):
        x32 = x.astype(np.float32)
    assert not np.any(my & ~np.isfinite(x32))  # non-finite, also after the float32 cast, is out
    np.testing.assert_array_equal(y[my], x[my].astype(np.float32))


@SETTINGS
@given(dirty_pairs())
def test_idempotent(pair):
    y, my = sanitize(*pair)
    y2, my2 = sanitize(y, my)
    np.testing.assert_array_equal(y2, y)
    np.testing.assert_array_equal(my2, my)


def test_known_answer_and_default_mask():
    x = np.array([[1.0, np.nan, 2.0], [np.inf, 3.0, -np.inf], [0.0, 0.0, 0.0]])
    y, m = sanitize(x)
    assert y.tolist() == [[1.0, 0.0, 2.0], [0.0, 3.0, 0.0], [0.0, 0.0, 0.0]]
    assert m.tolist() == [[True, False, True], [False, True, False], [False, False, False]]


def test_all_zero_leads_are_unobserved_unless_asked_not_to():
    x = np.zeros((2, 12, 10), np.float32)
    x[:, :6] = 0.4
    x[1, 8, 3] = np.nan  # zero apart from a NaN: still a dead lead
    _, m = sanitize(x)
    assert m[:, :6].all() and not m[:, 6:].any()
    _, m_keep = sanitize(x, flat_zero_unobserved=False)
    assert m_keep[:, 6:].sum() == 2 * 6 * 10 - 1


def test_does_not_modify_its_inputs():
    x = np.array([[np.nan, 1.0]], np.float32)
    m = np.array([[True, True]])
    y, my = sanitize(x, m)
    assert np.isnan(x[0, 0]) and m.all()
    assert not np.shares_memory(y, x) and not np.shares_memory(my, m)


def test_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        sanitize(np.zeros((12, 5)), np.ones((12, 4), bool))
