"""The whole holistic benchmark in one call: embed, probe grid, representation analysis, outputs.

:func:`run_benchmark` does what ``ecgfoundry bench`` does, given loaded embedding sources and opened
datasets:

1. :func:`~ecgfoundry.bench.runner.prepare`: every dataset is embedded by every source (cached,
   pooled every way needed) and every task's binary labels are saved in the work folder;
2. :func:`~ecgfoundry.bench.runner.run_grid` with ``small_data=True``: the probe grid
   (models x datasets x poolings x tasks x sizes x classifiers x folds), resumable, on joblib
   workers or a Dask cluster; every cell's actual ``n`` and ``k`` are recorded;
3. per model and task, the representation analysis of Filice et al. (arXiv 2601.21830,
   Algorithm 1; :func:`~ecgfoundry.bench.representation.representation_analysis`) over the
   datasets where the task could run, with C_i* (the best classifier of the best dataset, fitted
   there once) explained on every dataset; its result is cached
   in the work folder under a key of everything it depends on, so a resumed run reuses it;
4. tables (CSV + Markdown), figures (PNG) and ``summary.json`` into the output folder.

Output folder::

    tables.md                       every table in Markdown, with what each number is
    tables/f1.csv                   median F1 / IQR per dataset x size x task x pooling x model x classifier
    tables/headline.csv             each model's best classifier per dataset, models side by side
    tables/best_classifiers.csv     best classifier per model and dataset
    tables/separability.csv         label- and dataset-level kNN@k, centroid separation, GMM ARI
    tables/shared_features.csv      shared top-k SHAP feature rates (+ shared_features_pairs.csv)
    tables/cells.csv, skipped.csv   n, positives and k of every cell; what could not run and why
    figures/shared_features.png     pairwise shared-feature rates across datasets
    figures/umap_<model>_<task>.png UMAP of the common top-k features, by label and by dataset
    folds.csv                       one row per outer fold (every job)
    summary.json                    options, datasets, models, timings, headline numbers, skips
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ecgfoundry.bench.embed import POOLINGS, EmbeddingCache, _safe
from ecgfoundry.bench.probes import CLASSIFIERS, GRID_PRESETS, resolve_grid
from ecgfoundry.bench.scarcity import SIZES, check_sizes
from ecgfoundry.bench.tasks import DEFAULT_TASKS, parse_task
from ecgfoundry.progress import track


@dataclass(frozen=True)
class BenchOptions:
    """Everything that decides the benchmark's numbers (saved in ``summary.json``).

    Attributes
    ----------
    tasks : task specs (:mod:`ecgfoundry.bench.tasks`)
    sizes : (name, n) pairs (:mod:`ecgfoundry.bench.scarcity`)
    classifiers, poolings : which probes and token poolings
    k, inner_k : outer folds (lowered per cell on small data) and inner grid-search folds
    seed : subsets, folds, estimators, SHAP samples, UMAP
    grid : name of a grid preset (:data:`ecgfoundry.bench.probes.GRID_PRESETS`)
    grids : per-classifier overrides on top of the preset
    group_by_patient : keep a patient's records in one fold where patient ids are known
    representation : run the representation analysis (SHAP, shared features, geometry, UMAP)
    repr_pooling : pooling of the representation analysis
    repr_datasets : datasets it uses (None = every dataset where the task ran)
    top_k, n_fit, n_per_dataset, knn_k : Algorithm 1 parameters (50, 2500, 1000, 10)
    umap : also compute the UMAP coordinates and plots
    background, max_explain : SHAP background and explained records
    batch_size : records per embedding forward pass
    """

    tasks: tuple[str, ...] = DEFAULT_TASKS
    sizes: tuple[tuple[str, int], ...] = tuple(SIZES.items())
    classifiers: tuple[str, ...] = CLASSIFIERS
    poolings: tuple[str, ...] = ("last", "max")
    k: int = 15
    inner_k: int = 3
    seed: int = 0
    grid: str = "default"
    grids: tuple[tuple[str, tuple[tuple[str, tuple], ...]], ...] = ()
    group_by_patient: bool = True
    representation: bool = True
    repr_pooling: str = "max"
    repr_datasets: tuple[str, ...] | None = None
    top_k: int = 50
    n_fit: int = 2500
    n_per_dataset: int = 1000
    knn_k: int = 10
    umap: bool = True
    background: int = 100
    max_explain: int = 500
    batch_size: int = 64

    def __post_init__(self) -> None:
        if not self.tasks:
            raise ValueError("no tasks given")
        names = [parse_task(t).name for t in self.tasks]
        if len(set(names)) != len(names):
            raise ValueError(f"a task is named twice: {names}")
        check_sizes(dict(self.sizes))
        if not self.sizes:
            raise ValueError("no sizes given")
        for c in self.classifiers:
            if c not in CLASSIFIERS:
                raise ValueError(f"unknown classifier {c!r}; choose from {', '.join(CLASSIFIERS)}")
        if not self.classifiers:
            raise ValueError("no classifiers given")
        for p in (*self.poolings, self.repr_pooling):
            if p not in POOLINGS:
                raise ValueError(f"unknown pooling {p!r}; choose from {', '.join(POOLINGS)}")
        if not self.poolings:
            raise ValueError("no poolings given")
        if self.k < 2:
            raise ValueError(f"--folds must be at least 2, got {self.k}")
        if self.inner_k < 2:
            raise ValueError(f"inner folds must be at least 2, got {self.inner_k}")
        if self.grid not in GRID_PRESETS:
            raise ValueError(f"unknown grid preset {self.grid!r}; choose from {', '.join(GRID_PRESETS)}")
        for name, value in (("top_k", self.top_k), ("n_fit", self.n_fit), ("n_per_dataset", self.n_per_dataset),
                            ("knn_k", self.knn_k), ("batch_size", self.batch_size)):
            if value < 1:
                raise ValueError(f"{name} must be positive, got {value}")

    @property
    def grid_overrides(self) -> dict[str, dict[str, list]]:
        """The preset's grids with ``grids`` applied on top (per classifier)."""
        out = {c: dict(g) for c, g in GRID_PRESETS[self.grid].items()}
        for clf, params in self.grids:
            out[clf] = {k: list(v) for k, v in params}
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sizes"] = dict(self.sizes)
        d["resolved_grids"] = {c: [[k, list(v)] for k, v in resolve_grid(c, self.grid_overrides)]
                               for c in self.classifiers}
        return d


def grids_from_json(text: str) -> tuple:
    """``{"mlp": {"alpha": [0.1]}}`` (JSON text) -> the hashable ``BenchOptions.grids`` form."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--grids: not valid JSON ({exc})") from None
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise ValueError('--grids: expected {"classifier": {"param": [values, ...]}, ...}')
    out = []
    for clf, params in raw.items():
        if clf not in CLASSIFIERS:
            raise ValueError(f"--grids: unknown classifier {clf!r}; choose from {', '.join(CLASSIFIERS)}")
        out.append((clf, resolve_grid(clf, {clf: params})))
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# representation analysis, cached

def _repr_key(work: Path, model: str, task: str, datasets: Sequence[str], fit: tuple[str, str],
              opts: BenchOptions) -> str:
    cache = EmbeddingCache(work / "embeddings")
    digests = []
    for d in datasets:
        meta = json.loads(cache.path(model, d, opts.repr_pooling).with_suffix(".json").read_text())
        digests.append([meta["ids_sha1"], meta.get("fingerprint")])
    text = json.dumps({"protocol": "C_i* on every dataset, non-zero top-k", "model": model, "task": task,
                       "datasets": list(datasets), "fit": list(fit),
                       "digests": digests, "grids": opts.to_dict()["resolved_grids"],
                       **{k: getattr(opts, k) for k in ("repr_pooling", "top_k", "n_fit", "n_per_dataset", "knn_k",
                                                        "umap", "inner_k", "seed", "background", "max_explain")}},
                      sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def task_best(res, model: str, task: str, opts: BenchOptions):
    """Best classifier per dataset on ``task``'s cells alone, and the datasets that may be i*: those
    whose every cell of the task ran at its nominal size and k (see
    :func:`ecgfoundry.bench.representation.choose_fit_dataset`)."""
    from ecgfoundry.bench.probes import best_classifiers

    s = res.summary[(res.summary.model == model) & (res.summary.task == task)]
    best = best_classifiers(s) if len(s) else s
    cells = res.cells[res.cells.task == task]
    full = cells.assign(_full=(cells["n"] == cells["n_nominal"]) & (cells["k"] == opts.k))
    eligible = [d for d, g in full.groupby("dataset") if g["_full"].all()]
    return best, eligible


def representation_for(work: Path, model: str, task: str, datasets: Sequence[str], best, opts: BenchOptions,
                       eligible: Sequence[str] | None = None) -> dict:
    """Algorithm 1 for one model and task, as a JSON-able dict (read from the cache when present).

    ``best``: best classifiers of this task's cells per dataset (:func:`task_best`), which choose
    i* (among ``eligible``) and C_i*."""
    from ecgfoundry.bench.representation import choose_fit_dataset, representation_analysis

    fit = choose_fit_dataset(best, model, list(datasets), eligible)
    key = _repr_key(work, model, task, datasets, fit, opts)
    path = work / "representation" / _safe(model) / f"{_safe(task)}-{opts.repr_pooling}-{key}.json"
    if path.exists():
        return {**json.loads(path.read_text()), "cached": True}
    start = time.perf_counter()
    res = representation_analysis(work, model, list(datasets), task, pooling=opts.repr_pooling, best=best,
                                  fit_dataset=fit[0], classifier=fit[1],
                                  k=opts.top_k, n_fit=opts.n_fit, n_per_dataset=opts.n_per_dataset,
                                  knn_k=opts.knn_k, grids=opts.grid_overrides, inner_k=opts.inner_k, seed=opts.seed,
                                  with_umap=opts.umap, background=opts.background, max_explain=opts.max_explain)
    dim = int(len(next(iter(res.importances.values()))))
    k = min(opts.top_k, dim)
    out = {"model": model, "task": task, "pooling": opts.repr_pooling, "datasets": list(datasets),
           "fit_dataset": res.fit_dataset, "classifier": res.classifier,
           "classifiers": res.classifiers, "dim": dim, "k": k, "chance_rate": k / dim,
           "top_sizes": {d: int(len(v)) for d, v in res.tops.items()},
           "tops": {d: [int(i) for i in v] for d, v in res.tops.items()},
           "importances": {d: [float(x) for x in v] for d, v in res.importances.items()},
           "shared_pairs": res.shared_pairs.to_dict("records"), "shared": res.shared,
           "common_top": [int(i) for i in res.common_top], "geometry": res.geometry.to_dict("records"),
           "umap": None if res.umap is None else res.umap.to_dict("list"), "meta": res.meta,
           "seconds": round(time.perf_counter() - start, 2)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial")
    tmp.write_text(json.dumps(out, default=_json_default))
    tmp.replace(path)
    return {**json.loads(path.read_text()), "cached": False}


def _json_default(x):
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)


# ---------------------------------------------------------------------------------------------
# the run

@dataclass
class BenchRun:
    """What :func:`run_benchmark` produced (tables as DataFrames, plus the summary dict)."""

    results: Any
    tables: dict = field(default_factory=dict)
    representation: list = field(default_factory=list)
    summary: dict = field(default_factory=dict)


def run_benchmark(sources: Mapping[str, Any], datasets: Mapping[str, Any], out: str | Path, work: str | Path,
                  opts: BenchOptions = BenchOptions(), scheduler: Any = "local", n_jobs: int = 1,
                  progress: bool = True, info: Mapping[str, Any] | None = None) -> BenchRun:
    """Run the benchmark (see module docstring) and write its outputs into ``out``.

    Parameters
    ----------
    sources : dict name -> embedding source (``embed(batch) -> tokens``)
    datasets : dict name -> ArrayStore / StoreView (every source reads the same arrays), or a callable
        ``source -> that dict`` giving each source the datasets at its own rate and length
        (:class:`ecgfoundry.bench.datasets.DatasetsByRate`: harmonised once per rate)
    out : output folder (tables, figures, summary.json)
    work : work folder (embeddings, labels, one result file per job, representation cache)
    scheduler : "local" (joblib, ``n_jobs`` workers), a Dask scheduler address, or a ``Client``
    info : extra entries for ``summary.json`` (command, models, datasets)
    """
    import pandas as pd

    from ecgfoundry.bench.runner import prepare, run_grid

    out, work = Path(out), Path(work)
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    poolings = tuple(dict.fromkeys((*opts.poolings, opts.repr_pooling) if opts.representation else opts.poolings))
    per_source = datasets if callable(datasets) and not isinstance(datasets, Mapping) else None
    stores = per_source or dict(datasets)
    data_notes: list[str] = []
    task_skips = prepare(work, dict(sources), stores, opts.tasks, poolings, opts.batch_size, progress,
                         notes=data_notes)
    t_embed = time.perf_counter() - t0
    rates = {}
    for name, source in sources.items():
        own = per_source(source) if per_source else stores
        first = next(iter(own.values()))
        rates[name] = {"fs": float(first.fs), "seconds": (getattr(first, "info", None) or {}).get("seconds")}
    models, names = list(sources), list(per_source(next(iter(sources.values()))) if per_source else stores)
    res = run_grid(work, models, names, tasks=opts.tasks, sizes=dict(opts.sizes), classifiers=opts.classifiers,
                   poolings=opts.poolings, k=opts.k, inner_k=opts.inner_k, seed=opts.seed, grids=opts.grid_overrides,
                   group_by_patient=opts.group_by_patient, scheduler=scheduler, n_jobs=n_jobs, progress=progress,
                   small_data=True)
    t_grid = time.perf_counter() - t0 - t_embed
    reasons = {(s["dataset"], s["task"]): s["reason"] for s in task_skips}
    skipped = res.skipped.copy()
    skipped["reason"] = [reasons.get((d, t), r) if s == "*" else r
                         for d, t, s, r in zip(skipped.dataset, skipped.task, skipped["size"], skipped.reason)]

    reps, rep_skips = [], []
    if opts.representation and len(res.best):
        todo = []
        for model in models:
            for task in [parse_task(t).name for t in opts.tasks]:
                ds = [d for d in names if ((res.cells.dataset == d) & (res.cells.task == task)).any()
                      and (opts.repr_datasets is None or d in opts.repr_datasets)]
                ds = [d for d in ds if ((res.best.model == model) & (res.best.dataset == d)).any()]
                if ds:
                    todo.append((model, task, ds))
                else:
                    rep_skips.append({"model": model, "task": task, "reason": "no dataset with results for this task"})
        for model, task, ds in track(todo, "representation analysis", enabled=progress):
            try:
                best, eligible = task_best(res, model, task, opts)
                reps.append(representation_for(work, model, task, ds, best, opts, eligible))
            except ValueError as exc:  # too few points / classes for geometry on tiny data
                rep_skips.append({"model": model, "task": task, "reason": str(exc)})
    t_repr = time.perf_counter() - t0 - t_embed - t_grid

    tables = write_outputs(out, res, skipped, reps, rep_skips, models, names, opts, (info or {}).get("command"),
                           rates=rates, data_notes=data_notes)
    summary = {
        **dict(info or {}),
        "options": opts.to_dict(),
        "datasets_order": names, "models_order": models,
        "harmonisation": rates, "data_notes": data_notes,
        "cells": res.cells.to_dict("records"),
        "skipped": skipped.to_dict("records"),
        "representation_skipped": rep_skips,
        "jobs": {"total": res.meta["n_jobs_total"], "ran_now": res.meta["n_jobs_ran"],
                 "folds_without_score": res.meta["n_folds_failed"]},
        "seconds": {"embedding": round(t_embed, 1), "grid": round(t_grid, 1), "representation": round(t_repr, 1),
                    "total": round(time.perf_counter() - t0, 1)},
        "headline": tables["headline_long"].to_dict("records"),
        "best_classifiers": res.best.to_dict("records"),
        "separability": tables["separability"].to_dict("records"),
        "shared_features": tables["shared_features"].to_dict("records"),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=_json_default))
    return BenchRun(res, tables, reps, summary)


def write_outputs(out: Path, res, skipped, reps: list[dict], rep_skips: list[dict], models: Sequence[str],
                  datasets: Sequence[str], opts: BenchOptions, command: str | None = None,
                  rates: Mapping[str, Mapping] | None = None, data_notes: Sequence[str] = ()) -> dict:
    """Tables (CSV + ``tables.md``) and figures from the grid results and representation analyses."""
    import pandas as pd

    from ecgfoundry.bench import figures, tables

    tdir, fdir = out / "tables", out / "figures"
    tdir.mkdir(parents=True, exist_ok=True)
    fdir.mkdir(parents=True, exist_ok=True)
    res.folds.to_csv(out / "folds.csv", index=False)
    res.cells.to_csv(tdir / "cells.csv", index=False)
    skipped.to_csv(tdir / "skipped.csv", index=False)
    if len(res.summary):
        f1 = tables.f1_table(res.summary, res.cells, opts.classifiers, datasets)
        headline = tables.headline_table(res.summary, res.best, res.cells, models, datasets)
        long = tables.add_cells(res.summary, res.cells).merge(res.best[["model", "dataset", "classifier"]])
        best = tables.best_table(res.best, datasets)
    else:
        f1 = headline = long = best = pd.DataFrame()
    tables.add_cells(res.summary, res.cells).to_csv(tdir / "f1_long.csv", index=False) if len(res.summary) else None
    f1.to_csv(tdir / "f1.csv", index=False)
    headline.to_csv(tdir / "headline.csv", index=False)
    best.to_csv(tdir / "best_classifiers.csv", index=False)

    geo_rows, shared_rows, pair_rows, panels = [], [], [], []
    for r in reps:
        for g in r["geometry"]:
            geo_rows.append({"model": r["model"], "task": r["task"], "pooling": r["pooling"], **{
                k: g.get(k) for k in ("level", "knn_agreement", "knn_chance", "centroid_separation", "gmm_ari", "n",
                                     "n_groups")},
                "datasets": len(r["datasets"])})
        if r["shared"]:
            sizes = r.get("top_sizes") or {d: len(v) for d, v in r["tops"].items()}
            shared_rows.append({"model": r["model"], "task": r["task"], "pooling": r["pooling"],
                                "fit_dataset": r.get("fit_dataset"), "classifier": r.get("classifier"), "k": r["k"],
                                "dim": r["dim"], "top_sizes": " / ".join(str(sizes[d]) for d in r["datasets"]),
                                "chance_rate": r["shared"].get("mean_chance_rate", r["chance_rate"]),
                                "mean_pairwise_rate": r["shared"]["mean_pairwise_rate"],
                                "shared_by_all": r["shared"]["shared_by_all"],
                                "shared_by_all_rate": r["shared"]["shared_by_all_rate"],
                                "datasets": len(r["datasets"])})
            pairs = pd.DataFrame(r["shared_pairs"])
            pair_rows += [{"model": r["model"], "task": r["task"], **p} for p in r["shared_pairs"]]
            panels.append({"title": f"{r['model']} · {r['task']} · {r['pooling']} · top-{r['k']} of {r['dim']}\n"
                                    f"{r.get('classifier')} fitted on {r.get('fit_dataset')}",
                           "datasets": r["datasets"], "pairs": pairs, "k": r["k"],
                           "chance": r["shared"].get("mean_chance_rate", r["chance_rate"])})
        if r.get("umap"):
            coords = pd.DataFrame(r["umap"])
            figures.plot_umap(coords, f"{r['model']} · {r['task']} · {r['pooling']} pooling · common top-{r['k']} "
                                      f"SHAP features", fdir / f"umap_{_safe(r['model'])}_{_safe(r['task'])}.png",
                              task=r["task"])
    sep = tables.separability_table(geo_rows)
    shared = tables.shared_table(shared_rows)
    sep.to_csv(tdir / "separability.csv", index=False)
    shared.to_csv(tdir / "shared_features.csv", index=False)
    pair_cols = ["model", "task", "dataset_a", "dataset_b", "shared", "rate", "n_a", "n_b", "chance"]
    pd.DataFrame(pair_rows, columns=pair_cols).to_csv(tdir / "shared_features_pairs.csv", index=False)
    figures.plot_shared_features(panels, fdir / "shared_features.png")

    md = ["# Holistic benchmark of frozen embeddings", ""]
    if command:
        md += ["```", command, "```", ""]
    md += [f"Median F1 of the positive class over the outer folds of a class-balanced stratified k-fold CV "
           f"(k = {opts.k}, lowered to a cell's smaller class count on small data; `k` column), with the "
           f"IQR in brackets; hyper-parameters tuned by an inner {opts.inner_k}-fold grid search "
           f"(grid preset `{opts.grid}`) on the training folds only. `n` = records in the cell's subset, "
           f"`n_pos` = positives. "
           + (f"Folds keep each patient's records together: `n_patients` = patients (CV groups) in the cell, "
              f"`n_grouped` = records that share their patient with another record of the cell; k is lowered "
              f"(with a note) when a class has fewer than k patients. " if opts.group_by_patient else
              "Folds ignore patient ids (`--no-patient-groups`). ")
           + f"Seed {opts.seed}.", ""]
    if rates:
        md += ["## Data each model saw", "",
               "Every model gets the datasets harmonised at its own rate and length (its native input for an "
               "external model), each harmonised once per rate from the original files.", "",
               tables.to_markdown(pd.DataFrame([{"model": m, "fs (Hz)": r["fs"], "seconds": r["seconds"]}
                                                for m, r in rates.items()])), ""]
        md += [f"- note: {n}" for n in data_notes] + ([""] if data_notes else [])
    if len(headline):
        md += ["## Headline: each model's best classifier per dataset", "",
               "Cells: median F1 (IQR) and the classifier, chosen per model and dataset as the one with the "
               "highest mean median F1 over that dataset's cells (the paper's protocol; a choice made on the "
               "same folds, so read it as optimistic).", "", tables.to_markdown(headline), ""]
        md += ["## Median F1 (IQR) by classifier", "", tables.to_markdown(f1), ""]
        md += ["## Best classifier per model and dataset", "", tables.to_markdown(best), ""]
    if len(sep):
        md += ["## Separability (representation analysis)", "",
               f"On the common top-{opts.top_k} SHAP features (capped at the embedding size) of "
               f"{opts.repr_pooling}-pooled embeddings, up to {opts.n_per_dataset} label-balanced records per "
               f"dataset. label level: groups are positive / negative; dataset level: groups are the datasets. "
               f"kNN@{opts.knn_k} agreement (`knn_chance` = Σ p_g², its value for a layout unrelated to the "
               f"groups), centroid separation (distance between centroids "
               f"over the mean intra-group spread), ARI of a GMM with one component per group.", "",
               tables.to_markdown(sep), ""]
    if len(shared):
        md += ["## Shared top-k SHAP features across datasets", "",
               "One classifier per model and task, C_i* (`classifier`: the best classifier of the best dataset "
               "`fit_dataset`, fitted there once), explained with SHAP on every dataset (Filice et al., Algorithm 1). "
               "A dataset's top-k holds only features with non-zero importance, so it may hold fewer than k "
               "(`top_sizes`, in the order of the datasets). `mean_pairwise_rate`: mean over dataset pairs of "
               "|A ∩ B| / k (a missing feature counts as not shared); `chance_rate`: the same mean for random sets "
               "of the same sizes, |A| |B| / (D k) (k / D when every set is full).", "",
               tables.to_markdown(shared), ""]
    if len(skipped):
        md += ["## Cells that could not run", "", tables.to_markdown(skipped), ""]
    if rep_skips:
        md += ["## Representation analyses that could not run", "", tables.to_markdown(pd.DataFrame(rep_skips)), ""]
    (out / "tables.md").write_text("\n".join(md))
    return {"f1": f1, "headline": headline, "headline_long": long, "best": best, "separability": sep,
            "shared_features": shared}
