"""Embedding geometry: how well labels (or datasets) separate in a feature space, and its UMAP.

The representation analysis of Filice et al. (arXiv 2601.21830, Algorithm 1) measures, on the
top-50 SHAP features of pooled embeddings, at **label level** (groups = positive / negative) and at
**dataset level** (groups = source dataset):

* **kNN@k agreement** (k = 10): for every point, the fraction of its k nearest neighbours
  (Euclidean, the point itself excluded) in the same group; averaged over points. 1 = every
  neighbourhood is pure; a random layout gives about ``sum_g p_g^2`` (the chance of a match).
* **Centroid separation**: for groups ``a`` and ``b`` with centroids ``mu_a``, ``mu_b`` and spreads
  ``s_g = mean_{x in g} ||x - mu_g||`` (mean distance of a group's points to its centroid),

      sep(a, b) = ||mu_a - mu_b|| / ((s_a + s_b) / 2)

  the distance between centroids in units of the mean intra-group spread; the reported value is
  the mean of ``sep`` over all pairs of groups. 0 = same centroid; larger = better separated.
* **ARI of GMM clusters**: a ``GaussianMixture`` with as many components as groups (seeded, fitted
  best of 5 restarts, on standardised features) clusters the points; the adjusted Rand index compares clusters and
  groups. 1 = the clusters are the groups; about 0 = unrelated.

The UMAP projection (``umap-learn``, imported lazily, seeded) returns 2-D coordinates for plots.
"""

from __future__ import annotations

from itertools import combinations
from typing import Sequence

import numpy as np


def _groups(groups: Sequence) -> tuple[np.ndarray, np.ndarray]:
    names, codes = np.unique(np.asarray(groups), return_inverse=True)
    return names, codes.ravel()


def _check(X: np.ndarray, groups: Sequence) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be (N, D), got {X.shape}")
    names, codes = _groups(groups)
    if len(codes) != len(X):
        raise ValueError(f"{len(codes)} group labels for {len(X)} points")
    if len(names) < 2:
        raise ValueError("geometry needs at least two groups")
    return X, names, codes


def knn_agreement(X: np.ndarray, groups: Sequence, k: int = 10) -> float:
    """Mean fraction of each point's ``k`` nearest neighbours (itself excluded) sharing its group.

    Examples
    --------
    >>> X = np.array([[0.0], [0.1], [0.2], [10.0], [10.1], [10.2]])
    >>> knn_agreement(X, [0, 0, 0, 1, 1, 1], k=2)
    1.0
    """
    from sklearn.neighbors import NearestNeighbors

    X, _, codes = _check(X, groups)
    n = len(X)
    if not 1 <= k < n:
        raise ValueError(f"k must be in [1, {n - 1}], got {k}")
    _, nbr = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X)
    # drop the point itself (with duplicate points it need not come first), else the farthest
    rows = []
    for i, r in enumerate(nbr):
        r = r[r != i]
        rows.append(r[:k])
    nbr = np.stack(rows)
    return float((codes[nbr] == codes[:, None]).mean())


def centroid_separation(X: np.ndarray, groups: Sequence, return_pairs: bool = False):
    """Mean over group pairs of ``||mu_a - mu_b|| / ((s_a + s_b) / 2)`` (see module docstring).

    Parameters
    ----------
    X : ndarray of shape (N, D)
    groups : sequence of length N
    return_pairs : bool
        Also return ``{(a, b): sep}`` for every pair.

    Examples
    --------
    >>> X = np.array([[0.0, 0], [2, 0], [10, 0], [12, 0]])
    >>> centroid_separation(X, ["a", "a", "b", "b"])
    10.0
    """
    X, names, codes = _check(X, groups)
    mu = np.stack([X[codes == g].mean(axis=0) for g in range(len(names))])
    spread = np.array([np.linalg.norm(X[codes == g] - mu[g], axis=1).mean() for g in range(len(names))])
    pairs = {}
    for a, b in combinations(range(len(names)), 2):
        denom = (spread[a] + spread[b]) / 2.0
        dist = float(np.linalg.norm(mu[a] - mu[b]))
        pairs[(names[a].item(), names[b].item())] = dist / denom if denom > 0 else (np.inf if dist > 0 else 0.0)
    mean = float(np.mean(list(pairs.values())))
    return (mean, pairs) if return_pairs else mean


def gmm_ari(X: np.ndarray, groups: Sequence, seed: int = 0, covariance_type: str = "full",
            standardize: bool = True, n_init: int = 5) -> float:
    """Adjusted Rand index between a seeded ``GaussianMixture`` clustering and the groups.

    ``n_init`` restarts (best likelihood kept) avoid the poor local optima one k-means start can
    give; features are standardised first unless ``standardize=False``.
    """
    from sklearn.metrics import adjusted_rand_score
    from sklearn.mixture import GaussianMixture

    X, names, codes = _check(X, groups)
    if standardize:
        sd = X.std(axis=0)
        X = (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    gmm = GaussianMixture(n_components=len(names), covariance_type=covariance_type, random_state=seed,
                          n_init=n_init, reg_covar=1e-4)
    clusters = gmm.fit(X).predict(X)
    return float(adjusted_rand_score(codes, clusters))


def knn_chance(groups: Sequence) -> float:
    """kNN agreement of a layout unrelated to the groups: ``sum_g p_g^2`` (``p_g`` = group share).

    Examples
    --------
    >>> knn_chance(["a", "a", "a", "b"])
    0.625
    """
    _, codes = _groups(groups)
    p = np.bincount(codes) / len(codes)
    return float((p ** 2).sum())


def geometry_metrics(X: np.ndarray, groups: Sequence, k: int = 10, seed: int = 0) -> dict[str, float]:
    """``{"knn_agreement", "knn_chance", "centroid_separation", "gmm_ari", "n", "n_groups"}`` for one grouping."""
    names, _ = _groups(groups)
    return {"knn_agreement": knn_agreement(X, groups, k), "knn_chance": knn_chance(groups),
            "centroid_separation": centroid_separation(X, groups),
            "gmm_ari": gmm_ari(X, groups, seed=seed), "n": int(len(X)), "n_groups": int(len(names))}


def geometry_table(X: np.ndarray, labels: Sequence, datasets: Sequence, k: int = 10, seed: int = 0):
    """Label-level and dataset-level metrics as a two-row DataFrame (``level`` = label / dataset).

    With a single dataset the dataset row is omitted.
    """
    import pandas as pd

    rows = [{"level": "label", **geometry_metrics(X, labels, k, seed)}]
    if len(np.unique(np.asarray(datasets))) > 1:
        rows.append({"level": "dataset", **geometry_metrics(X, datasets, k, seed)})
    return pd.DataFrame(rows)


def balanced_per_dataset(y: np.ndarray, datasets: Sequence, n_per_dataset: int = 1000, seed: int = 0
                         ) -> np.ndarray:
    """Indices of up to ``n_per_dataset`` label-balanced records from every dataset (seeded)."""
    from ecgfoundry.bench.scarcity import Subset, balanced_subset

    datasets = np.asarray(datasets)
    y = np.asarray(y).astype(int)
    out = []
    for d in np.unique(datasets):
        idx = np.flatnonzero(datasets == d)
        sub = balanced_subset(y[idx], min(n_per_dataset, len(idx)), seed, min_per_class=1)
        if isinstance(sub, Subset):
            out.append(idx[sub.indices])
    return np.sort(np.concatenate(out)) if out else np.zeros(0, dtype=int)


def umap_coords(X: np.ndarray, seed: int = 0, n_neighbors: int = 15, min_dist: float = 0.1,
                standardize: bool = True) -> np.ndarray:
    """2-D UMAP coordinates ``(N, 2)`` float32 of ``X`` (seeded; umap-learn imported here)."""
    import umap

    X = np.asarray(X, dtype=np.float32)
    if standardize:
        sd = X.std(axis=0)
        X = (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    reducer = umap.UMAP(n_components=2, n_neighbors=min(n_neighbors, len(X) - 1), min_dist=min_dist,
                        random_state=seed, n_jobs=1)
    return reducer.fit_transform(X).astype(np.float32)
