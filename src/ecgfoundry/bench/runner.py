"""The benchmark grid as independent, resumable jobs, run with joblib or on a Dask cluster.

Grid: models x datasets x poolings x tasks x sizes x classifiers x folds (Filice et al.,
arXiv 2601.21830). Every cell of the grid is one :class:`Job`: a frozen, hashable description
that is enough, together with the work folder, to compute one outer-fold F1. Jobs read only
cached arrays, so they run anywhere the work folder is visible (a shared file system on a cluster).

Work folder::

    <workdir>/embeddings/<model>/<dataset>/<pooling>.npy|.json   pooled embeddings (EmbeddingCache)
    <workdir>/labels/<dataset>/<task>.npy|.json                   binary targets (N,), ids digest
    <workdir>/labels/<dataset>/groups.npy                         patient groups (optional)
    <workdir>/results/<job key>.json                              one small file per finished job
    <workdir>/skipped.csv                                         cells that could not run, and why
    <workdir>/cells.csv                                           n, class counts and k of every cell

Resumability: a job writes its result file atomically (temporary file + rename) when it finishes;
:func:`run_jobs` runs only the jobs whose file is missing, so an interrupted grid restarts where
it stopped. A job's key is a hash of all of its fields (grid and seeds included): changing the
grid gives new keys instead of reusing stale results.

Small datasets (``small_data=True``, what ``ecgfoundry bench`` uses): a size the dataset cannot
fill but whose bin it lies in takes all of its records (:func:`ecgfoundry.bench.scarcity.fit_size`),
and the number of outer folds is lowered, with a printed note, to the number of patients (CV
groups; records without patient ids) of the subset's smaller class when that is below ``k`` (at
least :data:`MIN_PER_CLASS` records and two patients of each class are needed: two folds, and
two records of each class left for the inner search). The actual ``n``, class counts, ``k``,
patients and records grouped by patient of every cell are in ``cells.csv`` (:data:`CELL_COLUMNS`),
in every job (``n``, ``k``) and in the summary tables. A fold
whose training part still has too few records of a class (possible with patient groups) is
recorded with ``f1`` NaN and its reason in ``error``, and left out of the medians. Fits that
stopped at their iteration limit (scikit-learn's ``ConvergenceWarning``) are counted in a job's
``fits_not_converged`` instead of being printed.

Schedulers: ``scheduler="local"`` runs the jobs with joblib (``n_jobs`` processes);
any other string is the address of a ``dask.distributed`` scheduler (``"tcp://host:8786"``) and
a ``Client`` is used directly. The same :func:`run_job` runs in both cases, and each job seeds
everything it draws from its own fields, so both give identical numbers.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import socket
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from itertools import product
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ecgfoundry.bench.embed import POOLINGS, EmbeddingCache, _safe, embed_store, ids_digest
from ecgfoundry.bench.probes import (CLASSIFIERS, TooFewRecords, best_classifiers, evaluate_fold, outer_folds,
                                     resolve_grid, summarize_folds)
from ecgfoundry.bench.scarcity import SIZES, Skip, balanced_subset, check_sizes, fit_size
from ecgfoundry.bench.tasks import DEFAULT_TASKS, TaskUnavailable, parse_task, resolve_task
from ecgfoundry.progress import track

JOB_FIELDS = ("model", "dataset", "pooling", "task", "size", "n", "classifier", "fold", "k", "inner_k", "seed",
              "data")


@dataclass(frozen=True)
class Job:
    """One outer fold of one grid cell.

    Attributes
    ----------
    model, dataset, pooling, task : str
        Which cached embeddings and labels.
    size : str
        Scarcity size name (``"XS"``, ...) and ``n`` its number of records.
    classifier : str
        A probe of :data:`ecgfoundry.bench.probes.PROBES`.
    fold, k : int
        Outer fold index in ``range(k)`` of a stratified k-fold CV.
    inner_k : int
        Folds of the inner grid search.
    seed : int
        Seeds the subset, the folds and the estimator.
    grid : tuple of (param, values)
        The hyper-parameter grid (from :func:`ecgfoundry.bench.probes.resolve_grid`).
    group_by_patient : bool
        Keep a patient's records in one fold when the work folder has patient groups.
    data : str
        Digest of the embeddings (source fingerprint, record ids) and labels the job reads, set by
        :func:`plan`: new embeddings or labels give new keys, so stale results are never reused.
    """

    model: str
    dataset: str
    pooling: str
    task: str
    size: str
    n: int
    classifier: str
    fold: int
    k: int = 15
    inner_k: int = 3
    seed: int = 0
    grid: tuple = ()
    group_by_patient: bool = True
    data: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.fold < self.k:
            raise ValueError(f"fold {self.fold} outside range({self.k})")
        hash(self)  # the grid must be hashable (tuples, not lists)

    @property
    def key(self) -> str:
        """Stable 20-hex-digit key of every field (the result file's name)."""
        text = json.dumps(asdict(self), sort_keys=True, default=str)
        return hashlib.sha1(text.encode()).hexdigest()[:20]

    @property
    def cell(self) -> tuple:
        return (self.model, self.dataset, self.pooling, self.size, self.task, self.classifier)


# ---------------------------------------------------------------------------------------------
# the work folder

def labels_path(workdir: str | Path, dataset: str, task: str) -> Path:
    return Path(workdir) / "labels" / _safe(dataset) / f"{_safe(task)}.npy"


def result_path(workdir: str | Path, job: Job) -> Path:
    return Path(workdir) / "results" / f"{job.key}.json"


def save_labels(workdir: str | Path, dataset: str, task: str, y: np.ndarray, ids: Sequence[str],
                groups: Sequence | None = None, meta: Mapping[str, Any] | None = None) -> Path:
    """Store binary targets ``y (N,)`` of ``task`` on ``dataset`` (aligned with the embeddings' ids);
    ``meta`` (e.g. the label set and class the task was built from) is kept in the JSON beside them."""
    y = np.asarray(y).astype(np.int8).ravel()
    if len(y) != len(ids):
        raise ValueError(f"{len(y)} labels for {len(ids)} ids")
    p = labels_path(workdir, dataset, task)
    p.parent.mkdir(parents=True, exist_ok=True)
    np.save(p, y)
    p.with_suffix(".json").write_text(json.dumps({**(meta or {}), "dataset": dataset, "task": task,
                                                  "n": int(len(y)), "n_pos": int(y.sum()),
                                                  "ids_sha1": ids_digest(ids)}))
    if groups is not None:
        # a record without a patient id is its own group
        g = np.asarray([str(x) if x is not None and str(x) not in ("", "nan") else f"\0record{i}"
                        for i, x in enumerate(groups)])
        if len(g) != len(y):
            raise ValueError(f"{len(g)} groups for {len(y)} labels")
        np.save(p.parent / "groups.npy", np.unique(g, return_inverse=True)[1].ravel())
    return p


def prepare(workdir: str | Path, sources: Mapping[str, Any] | Sequence[Any], stores: Any,
            tasks: Sequence[str] = DEFAULT_TASKS, poolings: Sequence[str] = POOLINGS, batch_size: int = 64,
            progress: bool = True, notes: list | None = None) -> list[dict]:
    """Embed every store with every source (cached) and save every task's labels into ``workdir``.

    Parameters
    ----------
    sources : dict name -> source, or sequence of sources (named by ``source.name``)
    stores : dict dataset name -> ArrayStore, or a callable ``source -> that dict`` giving each
        source the datasets harmonised at its own rate
        (:meth:`ecgfoundry.bench.datasets.DatasetsByRate.for_source`). Labels and patient groups
        come from the first source's stores; every other source's stores must hold the same
        records in the same order.
    tasks : task specs (``"CD"``, ``"AF"``, ``"label_set:class"``)
    notes : list, optional
        Appended to (and printed to stderr): a source that runs above the rate some records of a
        dataset were recorded at (:func:`ecgfoundry.bench.datasets.band_limit_notes`).

    Returns
    -------
    list of skip records ``{"dataset", "task", "reason"}`` for tasks a dataset has no labels for.
    """
    import sys

    from ecgfoundry.bench.datasets import band_limit_notes

    cache = EmbeddingCache(Path(workdir) / "embeddings")
    if not isinstance(sources, Mapping):
        sources = {getattr(s, "name", type(s).__name__): s for s in sources}
    stores_for = stores if callable(stores) and not isinstance(stores, Mapping) else (lambda _source: stores)
    skips, labelled = [], {}
    for name, source in sources.items():
        own = stores_for(source)
        fs = getattr(source, "fs", None) or (getattr(next(iter(own.values())), "fs", None) if own else None)
        for note in band_limit_notes(name, float(fs), own) if fs else ():
            print(f"note: {note}", file=sys.stderr)
            if notes is not None:
                notes.append(note)
        for dataset, store in own.items():
            ids = [f"{store.name}/{r}" for r in store.table["record_id"]]
            if dataset in labelled:
                if labelled[dataset] != ids_digest(ids):
                    raise ValueError(f"{dataset}: the records harmonised for {name} ({fs} Hz) are not those "
                                     "the labels were saved for (a record readable at one rate but not another?)")
            else:
                labelled[dataset] = ids_digest(ids)
                skips += _save_task_labels(workdir, dataset, store, ids, tasks)
            if getattr(source, "name", None) != name:
                source = _Renamed(source, name)
            embed_store(source, store, cache, poolings, dataset=dataset, batch_size=batch_size, progress=progress)
    return skips


def _save_task_labels(workdir, dataset: str, store: Any, ids: list[str], tasks: Sequence[str]) -> list[dict]:
    groups = store.table["patient_id"].tolist() if "patient_id" in store.table.columns else None
    skips = []
    for spec in tasks:
        task = parse_task(spec)
        try:
            task = resolve_task(store, task)
        except TaskUnavailable as exc:
            skips.append({"dataset": dataset, "task": task.name, "reason": str(exc)})
            continue
        Y, classes = store.labels(task.label_set)
        y = (np.asarray(Y)[:, list(classes).index(task.cls)] > 0.5).astype(np.int8)
        save_labels(workdir, dataset, task.name, y, ids, groups, meta={"label_set": task.label_set, "class": task.cls})
    return skips


@dataclass
class _Renamed:
    """A source under another cache name."""

    source: Any
    name: str

    def embed(self, batch):
        return self.source.embed(batch)


def _load_arrays(workdir: str, model: str, dataset: str, pooling: str, task: str, group_by_patient: bool):
    """:func:`_load_arrays_cached`, keyed also by the files' modification times (rewritten files reload)."""
    stamps = tuple(p.stat().st_mtime_ns if p.exists() else 0 for p in (
        EmbeddingCache(Path(workdir) / "embeddings").path(model, dataset, pooling),
        labels_path(workdir, dataset, task), labels_path(workdir, dataset, task).parent / "groups.npy"))
    return _load_arrays_cached(workdir, model, dataset, pooling, task, group_by_patient, stamps)


@functools.lru_cache(maxsize=32)
def _load_arrays_cached(workdir: str, model: str, dataset: str, pooling: str, task: str, group_by_patient: bool,
                        stamps: tuple):
    """Embeddings, labels and groups of a cell (memoised per process: workers load each once)."""
    emb = EmbeddingCache(Path(workdir) / "embeddings").load(model, dataset, pooling, mmap=True)
    p = labels_path(workdir, dataset, task)
    if not p.exists():
        raise FileNotFoundError(f"no labels for task {task} on {dataset} at {p} (run prepare / save_labels)")
    meta = json.loads(p.with_suffix(".json").read_text())
    if meta["ids_sha1"] != emb.meta["ids_sha1"]:
        raise ValueError(f"labels of {dataset}/{task} and embeddings of {model}/{dataset}/{pooling} "
                         "are for different records (re-run prepare)")
    y = np.load(p)
    gp = p.parent / "groups.npy"
    groups = np.load(gp) if group_by_patient and gp.exists() else None
    return emb.X, y, groups


def run_job(job: Job, workdir: str | Path) -> dict:
    """Compute one job, write its result file atomically, and return the result record."""
    workdir = str(workdir)
    X, y, groups = _load_arrays(workdir, job.model, job.dataset, job.pooling, job.task, job.group_by_patient)
    sub = balanced_subset(y, job.n, job.seed, min_per_class=job.k, size=job.size)
    if isinstance(sub, Skip):
        raise ValueError(f"{job}: {sub.reason} (plan the grid with plan(), which skips such cells)")
    Xs, ys = np.asarray(X[sub.indices], dtype=np.float32), y[sub.indices]
    gs = None if groups is None else groups[sub.indices]
    train, test = outer_folds(ys, job.k, job.seed, gs)[job.fold]
    with warnings.catch_warnings(record=True) as caught:  # counted in the record, not printed per fit
        warnings.simplefilter("always")
        try:
            res = asdict(evaluate_fold(job.classifier, Xs, ys, train, test, grid=job.grid, inner_k=job.inner_k,
                                       seed=job.seed, groups=gs))
            error = ""
        except TooFewRecords as exc:  # a fold of a tiny cell: recorded, not fatal
            res = {"f1": float("nan"), "best_params": {}, "inner_f1": float("nan"), "n_train": len(train),
                   "n_test": len(test), "n_test_pos": int(ys[test].sum()), "seconds": 0.0}
            error = str(exc)
    not_converged = sum("converge" in str(w.message).lower() for w in caught)
    record = {**{f: getattr(job, f) for f in JOB_FIELDS}, "key": job.key,
              "grid": json.dumps([[k, list(v)] for k, v in job.grid], default=str),
              "grouped": gs is not None, "n_pos": sub.n_pos, "n_neg": sub.n_neg, **res,
              "best_params": json.dumps(res["best_params"], sort_keys=True, default=str), "error": error,
              "fits_not_converged": not_converged,
              "host": socket.gethostname(), "pid": os.getpid(), "finished": time.time()}
    out = result_path(workdir, job)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.{time.monotonic_ns()}.partial")
    tmp.write_text(json.dumps(record, default=str))
    os.replace(tmp, out)
    return record


def load_result(workdir: str | Path, job: Job) -> dict | None:
    """The stored result of ``job``, or None when it has not finished (or its file is unreadable)."""
    p = result_path(workdir, job)
    try:
        return json.loads(p.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def pending_jobs(jobs: Sequence[Job], workdir: str | Path) -> list[Job]:
    """Jobs without a (readable) result file."""
    return [j for j in jobs if load_result(workdir, j) is None]


# ---------------------------------------------------------------------------------------------
# planning

def data_digest(workdir: str | Path, model: str, dataset: str, pooling: str, task: str) -> str:
    """12 hex digits identifying the embeddings (fingerprint, ids) and labels (values, groups) of a cell."""
    h = hashlib.sha1()
    emb = EmbeddingCache(Path(workdir) / "embeddings").path(model, dataset, pooling).with_suffix(".json")
    if emb.exists():
        meta = json.loads(emb.read_text())
        h.update(json.dumps([meta.get("fingerprint"), meta.get("ids_sha1"), meta.get("n"), meta.get("dim"),
                            meta.get("fs"), meta.get("seconds")]).encode())
    lab = labels_path(workdir, dataset, task)
    for p in (lab, lab.parent / "groups.npy"):
        if p.exists():
            h.update(np.load(p).tobytes())
    return h.hexdigest()[:12]


MIN_PER_CLASS = 3
"""Fewest records of a class a cell needs with ``small_data=True`` (2 outer folds, 2 left to train on)."""

CELL_COLUMNS = ["dataset", "task", "size", "n_nominal", "n", "n_pos", "n_neg", "k", "grouped", "n_patients",
                "n_grouped", "note"]
"""A cell's columns. ``grouped``: the folds keep each patient's records together (patient ids known
and ``group_by_patient``); ``n_patients``: distinct patients (CV groups) among the cell's ``n``
records; ``n_grouped``: records that share their patient with another record of the cell (the ones
whose fold grouping matters; 0 when every patient has one record)."""


def group_counts(groups: np.ndarray | None, y: np.ndarray) -> dict[str, int]:
    """Patients (groups) and records in multi-record groups of a cell, and the groups per class.

    Parameters
    ----------
    groups : ndarray (n,) of group ids, or None (every record its own group)
    y : ndarray (n,) binary targets

    Examples
    --------
    >>> group_counts(np.array([0, 0, 1, 2, 2, 2]), np.array([1, 0, 1, 0, 0, 0]))
    {'n_patients': 3, 'n_grouped': 5, 'groups_pos': 2, 'groups_neg': 2}
    """
    y = np.asarray(y).astype(int)
    if groups is None:
        return {"n_patients": int(len(y)), "n_grouped": 0, "groups_pos": int(y.sum()),
                "groups_neg": int(len(y) - y.sum())}
    g = np.asarray(groups)
    _, inverse, counts = np.unique(g, return_inverse=True, return_counts=True)
    return {"n_patients": int(len(counts)), "n_grouped": int((counts[inverse] > 1).sum()),
            "groups_pos": int(len(np.unique(g[y == 1]))), "groups_neg": int(len(np.unique(g[y == 0])))}


def plan_cells(workdir: str | Path, datasets: Sequence[str], tasks: Sequence[str] = DEFAULT_TASKS,
               sizes: Mapping[str, int] | None = None, k: int = 15, inner_k: int = 3, seed: int = 0,
               small_data: bool = False, group_by_patient: bool = True):
    """The (dataset, task, size) cells the labels in ``workdir`` allow, with their ``n`` and ``k``.

    Parameters
    ----------
    small_data : bool
        False: a cell needs ``n`` records and at least ``max(k, inner_k + 1)`` of each class in its
        subset, else it is skipped. True: a size the dataset cannot fill takes all records when the
        dataset lies in the size's bin, and ``k`` drops to the number of patients (CV groups; records
        when there are no patient ids) of the subset's smaller class when that is below ``k`` (at
        least :data:`MIN_PER_CLASS`) -- see the module docstring. Every lowered ``k`` is in the
        cell's ``note`` and printed to stderr.
    group_by_patient : bool
        Count patients from the work folder's groups (as the jobs will use them).

    Returns
    -------
    cells : DataFrame with :data:`CELL_COLUMNS` (``note`` says what was adapted, "" otherwise)
    skipped : DataFrame with ``dataset``, ``task``, ``size``, ``reason``
    """
    import pandas as pd

    sizes = check_sizes(SIZES if sizes is None else sizes)
    if k < 2:
        raise ValueError(f"k (outer folds) must be at least 2, got {k}")
    task_names = [parse_task(t).name for t in tasks]
    cells, skipped = [], []
    for dataset, task in product(datasets, task_names):
        p = labels_path(workdir, dataset, task)
        if not p.exists():
            skipped.append({"dataset": dataset, "task": task, "size": "*",
                            "reason": f"no labels for task {task} on {dataset}"})
            continue
        y = np.load(p)
        gp = p.parent / "groups.npy"
        groups = np.load(gp) if group_by_patient and gp.exists() else None
        for size, n in sizes.items():
            n_eff, note = fit_size(size, n, len(y), fill_bins=small_data)
            if n_eff is None:
                skipped.append({"dataset": dataset, "task": task, "size": size, "reason": note})
                continue
            need = MIN_PER_CLASS if small_data else max(k, inner_k + 1)
            sub = balanced_subset(y, n_eff, seed, min_per_class=need, size=size)
            if isinstance(sub, Skip):
                skipped.append({"dataset": dataset, "task": task, "size": size, "reason": sub.reason})
                continue
            gc = group_counts(None if groups is None else groups[sub.indices], y[sub.indices])
            unit = "patients" if groups is not None else "records"
            short = min(gc["groups_pos"], gc["groups_neg"])
            if small_data and short < 2:
                skipped.append({"dataset": dataset, "task": task, "size": size,
                                "reason": f"a class has {short} {unit}: no grouped 2-fold CV"})
                continue
            k_eff = min(k, short) if small_data else k
            if k_eff < k:
                lowered = f"k = {k_eff} (a class has {short} {unit}, fewer than {k})"
                note = "; ".join(x for x in (note, lowered) if x)
                print(f"note: {dataset} / {task} / {size}: {lowered}", file=sys.stderr)
            cells.append({"dataset": dataset, "task": task, "size": size, "n_nominal": n, "n": sub.n,
                          "n_pos": sub.n_pos, "n_neg": sub.n_neg, "k": k_eff, "grouped": groups is not None,
                          "n_patients": gc["n_patients"], "n_grouped": gc["n_grouped"], "note": note})
    return (pd.DataFrame(cells, columns=CELL_COLUMNS),
            pd.DataFrame(skipped, columns=["dataset", "task", "size", "reason"]))


def plan(workdir: str | Path, models: Sequence[str], datasets: Sequence[str], tasks: Sequence[str] = DEFAULT_TASKS,
         sizes: Mapping[str, int] | None = None, classifiers: Sequence[str] = CLASSIFIERS,
         poolings: Sequence[str] = ("last", "max"), k: int = 15, inner_k: int = 3, seed: int = 0,
         grids: Mapping[str, Mapping[str, Sequence]] | None = None, group_by_patient: bool = True,
         small_data: bool = False):
    """All jobs of the grid over what ``workdir`` holds, and the cells that cannot run.

    A (dataset, task, size) is skipped, with its reason, when the task has no labels on the dataset,
    or when the dataset cannot provide a subset of that size with at least ``k`` records of each class
    (with ``small_data``: see :func:`plan_cells`, which gives every cell's actual ``n`` and ``k``).

    Returns
    -------
    jobs : list of Job
    skipped : DataFrame with ``dataset``, ``task``, ``size``, ``reason`` (also written to skipped.csv;
        the cells that run are written to cells.csv)
    """
    for pooling in poolings:
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    grid_of = {c: resolve_grid(c, grids) for c in classifiers}
    cells, skipped = plan_cells(workdir, datasets, tasks, sizes, k, inner_k, seed, small_data, group_by_patient)
    jobs = []
    for cell in cells.itertuples(index=False):
        for model, pooling, clf in product(models, poolings, classifiers):
            data = data_digest(workdir, model, cell.dataset, pooling, cell.task)
            for fold in range(int(cell.k)):
                jobs.append(Job(model, cell.dataset, pooling, cell.task, cell.size, int(cell.n), clf, fold,
                                int(cell.k), inner_k, seed, grid_of[clf], group_by_patient, data))
    Path(workdir).mkdir(parents=True, exist_ok=True)
    skipped.to_csv(Path(workdir) / "skipped.csv", index=False)
    cells.to_csv(Path(workdir) / "cells.csv", index=False)
    return jobs, skipped


# ---------------------------------------------------------------------------------------------
# running

def _run_local(jobs: list[Job], workdir: str, n_jobs: int, progress: bool) -> None:
    from joblib import Parallel, delayed

    if n_jobs == 1:  # in-process: simplest to debug, no pickling
        for job in track(jobs, "probing", enabled=progress):
            run_job(job, workdir)
        return
    results = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(delayed(run_job)(j, workdir) for j in jobs)
    for _ in track(results, "probing", enabled=progress, total=len(jobs)):
        pass


def _run_dask(jobs: list[Job], workdir: str, scheduler: Any, progress: bool) -> None:
    from dask.distributed import Client, as_completed

    own = not isinstance(scheduler, Client)
    client = Client(scheduler) if own else scheduler
    try:
        futures = client.map(run_job, jobs, workdir=workdir, pure=False)
        for fut in track(as_completed(futures), "probing (dask)", enabled=progress, total=len(jobs)):
            fut.result()  # re-raises a job's exception here
    finally:
        if own:
            client.close()


def run_jobs(jobs: Sequence[Job], workdir: str | Path, scheduler: Any = "local", n_jobs: int = 1,
             progress: bool = True):
    """Run the jobs that have no result yet, then gather every job's result into a DataFrame.

    Parameters
    ----------
    jobs : sequence of Job
    workdir : folder with embeddings/ and labels/ (see module docstring); results/ is written there
    scheduler : "local", a dask.distributed scheduler address, or a ``dask.distributed.Client``
    n_jobs : int
        joblib workers for ``scheduler="local"`` (ignored for Dask: the cluster decides).

    Returns
    -------
    DataFrame, one row per job (in ``jobs`` order), with ``ran_now`` False for results that an earlier
    run had already written.
    """
    import pandas as pd

    workdir = str(workdir)
    jobs = list(dict.fromkeys(jobs))  # drop duplicates, keep order
    todo = pending_jobs(jobs, workdir)
    todo_keys = {j.key for j in todo}
    if todo:
        if isinstance(scheduler, str) and scheduler == "local":
            _run_local(todo, workdir, n_jobs, progress)
        else:
            _run_dask(todo, workdir, scheduler, progress)
    rows = []
    for job in jobs:
        rec = load_result(workdir, job)
        if rec is None:
            raise RuntimeError(f"job {job.key} finished without a result file ({job})")
        rec["ran_now"] = job.key in todo_keys
        rows.append(rec)
    return pd.DataFrame(rows)


@dataclass
class BenchResults:
    """Everything a grid produced: per-fold rows, summary tables, skipped cells."""

    folds: Any
    summary: Any
    best: Any
    skipped: Any
    meta: dict = field(default_factory=dict)
    cells: Any = None

    def save(self, out: str | Path) -> None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        self.folds.to_csv(out / "folds.csv", index=False)
        self.summary.to_csv(out / "summary.csv", index=False)
        self.best.to_csv(out / "best_classifiers.csv", index=False)
        self.skipped.to_csv(out / "skipped.csv", index=False)
        if self.cells is not None:
            self.cells.to_csv(out / "cells.csv", index=False)
        (out / "run.json").write_text(json.dumps(self.meta, indent=2, default=str))


def summarize(folds):
    """Median F1 + IQR per (model, dataset, pooling, size, task, classifier) and the best classifier
    per model and dataset (see :func:`ecgfoundry.bench.probes.summarize_folds`, ``best_classifiers``)."""
    summary = summarize_folds(folds)
    return summary, best_classifiers(summary)


def run_grid(workdir: str | Path, models: Sequence[str], datasets: Sequence[str], tasks: Sequence[str] = DEFAULT_TASKS,
             sizes: Mapping[str, int] | None = None, classifiers: Sequence[str] = CLASSIFIERS,
             poolings: Sequence[str] = ("last", "max"), k: int = 15, inner_k: int = 3, seed: int = 0,
             grids: Mapping[str, Mapping[str, Sequence]] | None = None, group_by_patient: bool = True,
             scheduler: Any = "local", n_jobs: int = 1, progress: bool = True, small_data: bool = False
             ) -> BenchResults:
    """:func:`plan` + :func:`run_jobs` + :func:`summarize` over the cached embeddings in ``workdir``."""
    import pandas as pd

    start = time.perf_counter()
    jobs, skipped = plan(workdir, models, datasets, tasks, sizes, classifiers, poolings, k, inner_k, seed, grids,
                         group_by_patient, small_data)
    cells = pd.read_csv(Path(workdir) / "cells.csv", keep_default_na=False)
    folds = run_jobs(jobs, workdir, scheduler, n_jobs, progress)
    if len(folds):
        summary, best = summarize(folds)
    else:
        summary, best = pd.DataFrame(), pd.DataFrame()
    meta = {"models": list(models), "datasets": list(datasets), "tasks": list(tasks),
            "sizes": check_sizes(SIZES if sizes is None else sizes), "classifiers": list(classifiers),
            "poolings": list(poolings), "k": k, "inner_k": inner_k, "seed": seed, "small_data": small_data,
            "grids": {c: resolve_grid(c, grids) for c in classifiers}, "group_by_patient": group_by_patient,
            "n_jobs_total": len(jobs), "n_jobs_ran": int(folds["ran_now"].sum()) if len(folds) else 0,
            "n_folds_failed": int(folds["f1"].isna().sum()) if len(folds) else 0,
            "seconds": round(time.perf_counter() - start, 2)}
    return BenchResults(folds, summary, best, skipped, meta, cells)
