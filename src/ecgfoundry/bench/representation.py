"""The representation analysis of one model (Filice et al., arXiv 2601.21830, Algorithm 1).

For one model, task and pooling, over several datasets cached in a benchmark work folder:

1. On every dataset, fit its best probe (from the grid's best-classifier table, or a named one)
   with the same grid search on a seeded balanced subset of at most ``n_fit`` records, explain it
   with SHAP and keep its top-``k`` (50) embedding dimensions
   (:mod:`ecgfoundry.bench.explain`).
2. Shared-feature rates: pairwise ``|A & B| / k`` and their mean, and the dimensions in every set.
3. A common feature set for the cross-dataset views: the top-``k`` of the mean over datasets of
   each dataset's importances normalised to sum 1 (each dataset weighs the same). This is our
   choice where the paper's text does not fix one.
4. On ``n_per_dataset`` (1,000) label-balanced records per dataset, restricted to the common
   features: label-level and dataset-level geometry (:mod:`ecgfoundry.bench.geometry`) and,
   optionally, the 2-D UMAP coordinates for the plots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ecgfoundry.bench.explain import explain_best, shared_feature_rate, top_features
from ecgfoundry.bench.geometry import balanced_per_dataset, geometry_table, umap_coords
from ecgfoundry.bench.probes import resolve_grid
from ecgfoundry.bench.scarcity import Skip, balanced_subset


@dataclass
class RepresentationResult:
    """What :func:`representation_analysis` found (tables are pandas DataFrames)."""

    model: str
    task: str
    pooling: str
    classifiers: dict[str, str]
    importances: dict[str, np.ndarray]
    tops: dict[str, np.ndarray]
    shared_pairs: Any
    shared: dict
    common_top: np.ndarray
    geometry: Any
    umap: Any = None
    meta: dict = field(default_factory=dict)


def _classifier_for(best: Any, model: str, dataset: str, default: str | None) -> str:
    if best is not None and len(best):
        rows = best[(best["model"] == model) & (best["dataset"] == dataset)]
        if len(rows):
            return str(rows["classifier"].iloc[0])
    if default is None:
        raise ValueError(f"no best classifier for {model} on {dataset}: pass best= (run_grid(...).best) "
                         "or classifier=")
    return default


def representation_analysis(workdir: str | Path, model: str, datasets: Sequence[str], task: str,
                            pooling: str = "max", best: Any = None, classifier: str | None = None,
                            k: int = 50, n_fit: int = 2500, n_per_dataset: int = 1000, knn_k: int = 10,
                            grids: Mapping | None = None, inner_k: int = 3, seed: int = 0, with_umap: bool = True,
                            background: int = 100, max_explain: int = 500) -> RepresentationResult:
    """Algorithm 1 for ``model`` on ``datasets`` (see module docstring).

    Parameters
    ----------
    workdir : folder prepared for the grid (embeddings/ and labels/)
    best : DataFrame, optional
        ``run_grid(...).best`` (columns model, dataset, classifier); ``classifier`` is the fallback.
    k : int
        Top features per dataset (50).
    n_fit : int
        Most records (balanced, seeded) the explained probe is fitted on.
    n_per_dataset : int
        Balanced records per dataset for geometry and UMAP (1,000).
    """
    import pandas as pd

    from ecgfoundry.bench.runner import _load_arrays

    workdir = str(workdir)
    arrays, clfs, imps, tops = {}, {}, {}, {}
    for dataset in datasets:
        X, y, _ = _load_arrays(workdir, model, dataset, pooling, task, False)
        arrays[dataset] = (X, y)
        clf = _classifier_for(best, model, dataset, classifier)
        sub = balanced_subset(y, min(n_fit, len(y)), seed, min_per_class=inner_k)
        if isinstance(sub, Skip):
            raise ValueError(f"{dataset}: cannot fit a probe for {task}: {sub.reason}")
        out = explain_best(np.asarray(X[sub.indices]), y[sub.indices], clf, grid=resolve_grid(clf, grids),
                           inner_k=inner_k, seed=seed, k=k, background=background, max_explain=max_explain)
        clfs[dataset], imps[dataset], tops[dataset] = clf, out["importance"], out["top"]
    dims = {len(v) for v in imps.values()}
    if len(dims) != 1:
        raise ValueError(f"{model}: embedding sizes differ across datasets: {dims}")
    if len(datasets) > 1:
        pairs, shared = shared_feature_rate(tops, k=min(k, dims.pop()))
    else:
        pairs, shared = pd.DataFrame(columns=["dataset_a", "dataset_b", "shared", "rate"]), {}
    norm = [v / v.sum() if v.sum() > 0 else v for v in imps.values()]
    common = top_features(np.mean(norm, axis=0), k)

    feats, labels, names, ids = [], [], [], []
    for dataset, (X, y) in arrays.items():
        idx = balanced_per_dataset(y, np.zeros(len(y)), n_per_dataset, seed)
        feats.append(np.asarray(X[idx])[:, common])
        labels.append(y[idx])
        names += [dataset] * len(idx)
        ids += [f"{dataset}:{i}" for i in idx]
    Xg, yg, dg = np.concatenate(feats), np.concatenate(labels), np.asarray(names)
    geometry = geometry_table(Xg, yg, dg, k=knn_k, seed=seed)
    geometry.insert(0, "model", model)
    emb2 = None
    if with_umap:
        xy = umap_coords(Xg, seed=seed)
        emb2 = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "label": yg, "dataset": dg, "row": ids})
    return RepresentationResult(model, task, pooling, clfs, imps, tops, pairs, shared, common, geometry, emb2,
                                meta={"k": k, "n_fit": n_fit, "n_per_dataset": n_per_dataset, "knn_k": knn_k,
                                      "seed": seed, "n_points": int(len(Xg))})
