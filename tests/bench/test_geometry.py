"""Geometry metrics against hand-computed values; UMAP shape and seeding."""

from __future__ import annotations

import numpy as np
import pytest

for _m in ('sklearn',):
    pytest.importorskip(_m, reason="the bench extra is not installed (pip install -e '.[bench]')")


from ecgfoundry.bench.geometry import (balanced_per_dataset, centroid_separation, geometry_table, gmm_ari,
                                       knn_agreement, umap_coords)


def clusters(n_per=30, centers=((0, 0), (20, 0), (0, 20)), seed=0):
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(size=(n_per, 2)) * 0.5 + c for c in centers])
    return X, np.repeat(np.arange(len(centers)), n_per)


def test_knn_agreement_perfect_clusters_and_chance():
    X, g = clusters()
    assert knn_agreement(X, g, k=10) == 1.0
    rng = np.random.default_rng(1)
    Xr = rng.normal(size=(600, 5))
    gr = rng.integers(0, 2, 600)
    assert abs(knn_agreement(Xr, gr, k=10) - 0.5) < 0.05  # chance: sum p_g^2 = 0.5


def test_knn_agreement_hand_example_and_duplicates():
    # 0 and 0.5 are each other's nearest; 1.9's nearest is 0.5 (other group); 10's is 1.9
    X = np.array([[0.0], [0.5], [1.9], [10.0]])
    assert knn_agreement(X, ["a", "a", "b", "b"], k=1) == pytest.approx(3 / 4)
    Xd = np.zeros((4, 2))  # all duplicates: the point itself is still excluded
    assert knn_agreement(Xd, [0, 0, 1, 1], k=3) == pytest.approx(1 / 3)


def test_centroid_separation_hand_values():
    X = np.array([[0.0, 0], [2, 0], [10, 0], [12, 0]])
    assert centroid_separation(X, ["a", "a", "b", "b"]) == pytest.approx(10.0)
    # spreads 1 and 3 -> mean spread 2; centroids 10 apart -> 5
    X2 = np.array([[0.0, 0], [2, 0], [8, 0], [14, 0]])
    assert centroid_separation(X2, [0, 0, 1, 1]) == pytest.approx(5.0)
    # three groups: the mean over pairs
    X3 = np.array([[-1.0, 0], [1, 0], [9, 0], [11, 0], [-1, 10], [1, 10]])
    mean, pairs = centroid_separation(X3, [0, 0, 1, 1, 2, 2], return_pairs=True)
    assert pairs[(0, 1)] == pytest.approx(10.0) and pairs[(0, 2)] == pytest.approx(10.0)
    assert pairs[(1, 2)] == pytest.approx(np.hypot(10, 10))
    assert mean == pytest.approx((20 + np.hypot(10, 10)) / 3)
    # invariant to scaling the space, zero for identical groups
    assert centroid_separation(X * 7.0, ["a", "a", "b", "b"]) == pytest.approx(10.0)
    assert centroid_separation(np.array([[0.0], [1], [0], [1]]), [0, 0, 1, 1]) == 0.0


def test_gmm_ari_known_values():
    X, g = clusters()
    assert gmm_ari(X, g, seed=0) == pytest.approx(1.0)
    rng = np.random.default_rng(3)
    Xr = rng.normal(size=(400, 3))
    assert abs(gmm_ari(Xr, rng.integers(0, 2, 400), seed=0)) < 0.05


def test_geometry_table_levels():
    X, g = clusters(n_per=40, centers=((0, 0), (20, 0)))
    datasets = np.tile(["d1", "d2"], 40)  # datasets interleaved: no dataset structure
    t = geometry_table(X, g, datasets, k=10, seed=0).set_index("level")
    assert t.loc["label", "knn_agreement"] == 1.0 and t.loc["label", "gmm_ari"] == pytest.approx(1.0)
    assert t.loc["dataset", "knn_agreement"] < 0.7 and t.loc["dataset", "centroid_separation"] < 0.5
    assert list(geometry_table(X, g, ["one"] * 80).level) == ["label"]


def test_balanced_per_dataset():
    y = np.r_[np.ones(100), np.zeros(900), np.ones(500), np.zeros(500)].astype(int)
    d = np.r_[["a"] * 1000, ["b"] * 1000]
    idx = balanced_per_dataset(y, d, n_per_dataset=400, seed=0)
    for name in ("a", "b"):
        sel = idx[d[idx] == name]
        assert len(sel) == 400
    assert y[idx[d[idx] == "a"]].sum() == 100 and y[idx[d[idx] == "b"]].sum() == 200


@pytest.mark.slow  # the first umap import compiles numba code (~15-25 s)
def test_umap_coords_seeded():
    pytest.importorskip("umap")
    X, _ = clusters(n_per=20)
    a, b = umap_coords(X, seed=0, n_neighbors=5), umap_coords(X, seed=0, n_neighbors=5)
    assert a.shape == (60, 2) and np.allclose(a, b)
