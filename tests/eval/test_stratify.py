"""Iterative stratification: per-label shares, rare labels kept, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

from ecgfoundry.eval.stratify import iterative_stratification, stratified_subsample


def _labels(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    prev = np.array([0.4, 0.2, 0.1, 0.05, 0.02, 0.01, 0.003])
    y = rng.random((n, len(prev))) < prev
    y[:, 1] |= y[:, 2] & (rng.random(n) < 0.5)  # correlated labels
    return y


def test_parts_get_their_share_of_every_label():
    y = _labels()
    part = iterative_stratification(y, (0.5, 0.3, 0.2), rng=0)
    assert set(np.unique(part)) == {0, 1, 2}
    for j, r in enumerate((0.5, 0.3, 0.2)):
        got = y[part == j].sum(axis=0)
        want = r * y.sum(axis=0)
        assert np.all(np.abs(got - want) <= 2), (j, got, want)
        assert abs((part == j).sum() - r * len(y)) <= 3


def test_better_than_random_subsampling():
    y = _labels(seed=1)
    idx = stratified_subsample(y, 0.1, seed=0)
    err = np.abs(y[idx].sum(0) - 0.1 * y.sum(0)).sum()
    rng = np.random.default_rng(0)
    rand_err = np.mean([np.abs(y[rng.choice(len(y), len(idx), replace=False)].sum(0) - 0.1 * y.sum(0)).sum()
                        for _ in range(20)])
    assert err < rand_err / 3


def test_one_percent_keeps_a_positive_of_every_class():
    y = _labels(n=2000, seed=2)
    assert y[:, -1].sum() >= 1
    idx = stratified_subsample(y, 0.01, seed=3)
    assert np.all(y[idx].sum(axis=0) >= 1)
    assert abs(len(idx) - 20) <= y.shape[1]
    assert np.array_equal(idx, np.sort(idx)) and len(np.unique(idx)) == len(idx)


def test_reproducible_full_and_class_indices():
    y = _labels(n=500, seed=4)
    a, b = stratified_subsample(y, 0.1, seed=5), stratified_subsample(y, 0.1, seed=5)
    assert np.array_equal(a, b) and not np.array_equal(a, stratified_subsample(y, 0.1, seed=6))
    assert np.array_equal(stratified_subsample(y, 1.0), np.arange(500))
    classes = np.repeat(np.arange(4), [300, 100, 80, 20])
    idx = stratified_subsample(classes, 0.1, seed=0)
    assert np.bincount(classes[idx], minlength=4).tolist() == [30, 10, 8, 2]
    with pytest.raises(ValueError, match="fraction"):
        stratified_subsample(y, 0.0)
