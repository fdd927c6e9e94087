"""The representation analysis of one model (Filice et al., arXiv 2601.21830, Algorithm 1).

For one model, task and pooling, over several datasets cached in a benchmark work folder:

1. Choose C_i*: the best dataset i* is the one whose best classifier has the highest mean median
   F1 over the task's cells (from the grid's best-classifier table), and C_i* is that classifier.
   Only datasets whose cells ran at their nominal size and k compete when any did (a 20-record
   source with F1 = 1 on a 5-record test fold is no "best dataset"); ``fit_dataset`` /
   ``classifier`` override the choice.
2. Fit C_i* once, with the same grid search, on a seeded balanced subset of at most ``n_fit``
   records of i*.
3. Explain that one fitted classifier with SHAP on every dataset (at most ``n_fit`` balanced
   records each; i* on its fitting subset) and keep, per dataset, its top-``k`` (50) embedding
   dimensions with non-zero importance (:mod:`ecgfoundry.bench.explain`).
4. Shared-feature rates: pairwise ``|A & B| / k`` and their mean, the dimensions in every set, and
   the chance rate of random sets of the same sizes.
5. A common feature set for the cross-dataset views: the top-``k`` of the mean over datasets of
   C_i*'s importances on each dataset normalised to sum 1 (each dataset weighs the same). This is
   our choice where the paper's text does not fix one.
6. On ``n_per_dataset`` (1,000) label-balanced records per dataset, restricted to the common
   features: label-level and dataset-level geometry (:mod:`ecgfoundry.bench.geometry`) and,
   optionally, the 2-D UMAP coordinates for the plots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ecgfoundry.bench.explain import explain_across, explain_best, shared_feature_rate, top_features
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
    fit_dataset: str
    classifier: str
    importances: dict[str, np.ndarray]
    tops: dict[str, np.ndarray]
    shared_pairs: Any
    shared: dict
    common_top: np.ndarray
    geometry: Any
    umap: Any = None
    meta: dict = field(default_factory=dict)


def choose_fit_dataset(best: Any, model: str, datasets: Sequence[str], eligible: Sequence[str] | None = None
                       ) -> tuple[str, str]:
    """``(i*, C_i*)``: the dataset whose best classifier scores highest, and that classifier.

    Parameters
    ----------
    best : DataFrame with ``model``, ``dataset``, ``classifier``, ``f1_median_mean`` (and
        ``f1_iqr_mean``): :func:`ecgfoundry.bench.probes.best_classifiers` of the task's cells
    eligible : datasets allowed to be i* (default all); ignored when none of them has a row
    Ties go to the smaller mean IQR, then to the order of ``datasets``.
    """
    if best is None or not len(best) or "f1_median_mean" not in best.columns:
        raise ValueError(f"no best classifier for {model}: pass best= (best classifiers with f1_median_mean) "
                         "or fit_dataset= and classifier=")
    rows = best[(best["model"] == model) & best["dataset"].isin(list(datasets))]
    if eligible is not None and rows["dataset"].isin(list(eligible)).any():
        rows = rows[rows["dataset"].isin(list(eligible))]
    if not len(rows):
        raise ValueError(f"no best classifier for {model} on any of {', '.join(datasets)}")
    rank = {d: i for i, d in enumerate(datasets)}
    iqr = rows["f1_iqr_mean"] if "f1_iqr_mean" in rows.columns else 0.0
    rows = rows.assign(_iqr=iqr, _order=rows["dataset"].map(rank))
    top = rows.sort_values(["f1_median_mean", "_iqr", "_order"], ascending=[False, True, True]).iloc[0]
    return str(top["dataset"]), str(top["classifier"])


def representation_analysis(workdir: str | Path, model: str, datasets: Sequence[str], task: str,
                            pooling: str = "max", best: Any = None, classifier: str | None = None,
                            fit_dataset: str | None = None, eligible: Sequence[str] | None = None,
                            k: int = 50, n_fit: int = 2500, n_per_dataset: int = 1000, knn_k: int = 10,
                            grids: Mapping | None = None, inner_k: int = 3, seed: int = 0, with_umap: bool = True,
                            background: int = 100, max_explain: int = 500) -> RepresentationResult:
    """Algorithm 1 for ``model`` on ``datasets`` (see module docstring).

    Parameters
    ----------
    workdir : folder prepared for the grid (embeddings/ and labels/)
    best : DataFrame, optional
        Best classifiers of this task's cells (model, dataset, classifier, f1_median_mean): chooses
        i* and C_i* (:func:`choose_fit_dataset`).
    classifier, fit_dataset : str, optional
        C_i* and i*, overriding ``best`` (both, or ``fit_dataset`` with ``best`` giving its classifier).
    eligible : datasets that may be i* (see :func:`choose_fit_dataset`)
    k : int
        Top features per dataset (50); only non-zero importances count.
    n_fit : int
        Most records (balanced, seeded) C_i* is fitted on, and explained on per dataset.
    n_per_dataset : int
        Balanced records per dataset for geometry and UMAP (1,000).
    """
    import pandas as pd

    from ecgfoundry.bench.runner import _load_arrays

    workdir = str(workdir)
    datasets = list(datasets)
    if fit_dataset is None:
        fit_dataset, chosen = choose_fit_dataset(best, model, datasets, eligible)
        classifier = classifier or chosen
    elif classifier is None:
        rows = None if best is None else best[(best["model"] == model) & (best["dataset"] == fit_dataset)]
        if rows is None or not len(rows):
            raise ValueError(f"no best classifier for {model} on {fit_dataset}: pass classifier=")
        classifier = str(rows["classifier"].iloc[0])
    if fit_dataset not in datasets:
        raise ValueError(f"fit dataset {fit_dataset!r} is not one of {datasets}")
    arrays, explain = {}, {}
    for dataset in datasets:
        X, y, _ = _load_arrays(workdir, model, dataset, pooling, task, False)
        arrays[dataset] = (X, y)
        sub = balanced_subset(y, min(n_fit, len(y)), seed, min_per_class=inner_k if dataset == fit_dataset else 1)
        if isinstance(sub, Skip):
            raise ValueError(f"{dataset}: cannot {'fit' if dataset == fit_dataset else 'explain'} a probe for "
                             f"{task}: {sub.reason}")
        explain[dataset] = np.asarray(X[sub.indices], dtype=np.float32)
        if dataset == fit_dataset:
            fit_y = y[sub.indices]
    fitted = explain_best(explain[fit_dataset], fit_y, classifier, grid=resolve_grid(classifier, grids),
                          inner_k=inner_k, seed=seed, k=k, background=background, max_explain=max_explain)
    per = explain_across(fitted["estimator"], explain, classifier, k=k, background=background,
                         max_explain=max_explain, seed=seed)
    imps = {d: per[d]["importance"] for d in datasets}
    tops = {d: per[d]["top"] for d in datasets}
    clfs = {d: classifier for d in datasets}
    dims = {len(v) for v in imps.values()}
    if len(dims) != 1:
        raise ValueError(f"{model}: embedding sizes differ across datasets: {dims}")
    dim = dims.pop()
    if len(datasets) > 1:
        pairs, shared = shared_feature_rate(tops, k=min(k, dim), dim=dim)
    else:
        pairs, shared = pd.DataFrame(columns=["dataset_a", "dataset_b", "shared", "rate", "n_a", "n_b",
                                              "chance"]), {}
    norm = [v / v.sum() if v.sum() > 0 else v for v in imps.values()]
    common = top_features(np.mean(norm, axis=0), k)
    if not len(common):
        raise ValueError(f"{model}: C_i* ({classifier} fitted on {fit_dataset}) has no feature with non-zero "
                         "importance on any dataset")

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
    return RepresentationResult(model, task, pooling, clfs, fit_dataset, classifier, imps, tops, pairs, shared,
                                common, geometry, emb2,
                                meta={"best_params": fitted["best_params"], "k": k, "n_fit": n_fit,
                                      "n_per_dataset": n_per_dataset, "knn_k": knn_k, "seed": seed,
                                      "n_points": int(len(Xg))})
