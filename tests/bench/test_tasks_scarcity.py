"""Tasks (binary targets from label sets) and data-scarcity subsets."""

from __future__ import annotations

import numpy as np
import pytest

from ecgfoundry.bench.scarcity import SIZES, Skip, Subset, balanced_subset, check_sizes, scarcity_subsets
from ecgfoundry.bench.tasks import Task, TaskUnavailable, parse_task, task_labels


class FakeStore:
    name = "fake"

    def __init__(self):
        self.sets = {"CD": (np.array([[1], [0], [1], [0]], np.float32), ("CD",)),
                     "superdiagnostic": (np.array([[1, 0], [0, 1], [1, 1], [0, 0]], np.float32), ("MI", "NORM"))}

    @property
    def label_set_names(self):
        return list(self.sets)

    def labels(self, name):
        return self.sets[name]


def test_parse_task():
    assert parse_task("CD") == Task("CD", "CD", "CD")
    assert parse_task(" superdiagnostic:MI ") == Task("superdiagnostic:MI", "superdiagnostic", "MI")
    for bad in ("", ":MI", "superdiagnostic:"):
        with pytest.raises(ValueError):
            parse_task(bad)


def test_task_labels_binary_and_named_class():
    s = FakeStore()
    assert task_labels(s, "CD").tolist() == [1, 0, 1, 0]
    assert task_labels(s, "superdiagnostic:NORM").tolist() == [0, 1, 1, 0]
    with pytest.raises(TaskUnavailable, match="no label set 'AF'"):
        task_labels(s, "AF")
    with pytest.raises(TaskUnavailable, match="no class 'HYP'"):
        task_labels(s, "superdiagnostic:HYP")


def test_balanced_subset_is_balanced_seeded_and_nested():
    rng = np.random.default_rng(0)
    y = (rng.random(3000) < 0.3).astype(int)  # 900-ish positives
    subs = scarcity_subsets(y, {"XS": 250, "S": 1000, "M": 2500}, seed=3)
    xs, s, m = subs["XS"], subs["S"], subs["M"]
    assert (xs.n_pos, xs.n_neg) == (125, 125) and xs.balanced
    assert (s.n_pos, s.n_neg) == (500, 500)
    assert m.n == 2500 and m.n_pos == y.sum() and not m.balanced  # all positives, negatives fill up
    assert y[m.indices].sum() == m.n_pos and len(np.unique(m.indices)) == 2500
    assert set(xs.indices) <= set(s.indices) <= set(m.indices)
    again = balanced_subset(y, 1000, seed=3)
    assert np.array_equal(again.indices, s.indices)
    assert not np.array_equal(balanced_subset(y, 1000, seed=4).indices, s.indices)


def test_too_small_or_too_few_positives_is_skipped_with_reason():
    y = np.r_[np.ones(10), np.zeros(600)].astype(int)
    subs = scarcity_subsets(y, {"XS": 250, "S": 1000}, min_per_class=15)
    assert isinstance(subs["S"], Skip) and "610 records < 1000" in subs["S"].reason
    assert isinstance(subs["XS"], Skip) and "10 positives" in subs["XS"].reason
    ok = balanced_subset(y, 250, seed=0, min_per_class=5)
    assert isinstance(ok, Subset) and ok.n_pos == 10 and ok.n_neg == 240


def test_sizes_respect_their_bins():
    assert check_sizes(SIZES) == {"XS": 250, "S": 1000, "M": 2500, "L": 5000}
    with pytest.raises(ValueError, match="outside its bin"):
        check_sizes({"XS": 600})
    assert check_sizes({"tiny": 40}) == {"tiny": 40}
