"""The probe grid of one model on PTB-XL: ecgfoundry's runner with 1 and 2 workers vs a naive loop.

Run:  nice -n 10 .venv/bin/python benchmarks/bench_grid.py [--model runs/pretrain/ptbxl-scar]
          [--data ../shared/data/ptbxl] [--task CD] [--size S] [--folds 3] [--pooling max]

What is timed (the same jobs three times, embeddings already cached, each from an empty results
folder):

* ``runner, 1 worker``: :func:`ecgfoundry.bench.runner.run_jobs` in-process;
* ``runner, 2 workers``: the same with two joblib (loky) worker processes;
* ``naive sklearn loop``: a plain sequential loop that, for every job, loads the arrays with
  ``np.load``, draws the same balanced subset and outer fold, fits a scikit-learn ``GridSearchCV``
  over the same estimator and grid with the same balanced sample weights, and scores F1.

All five classifiers with the default grids, ONE task and ONE size (default CD at S = 1,000
records, k = 3 outer folds: 15 jobs) so the whole script takes a few minutes on a shared 2-core
CPU. For the runner it also reports the seconds spent inside jobs per second of wall time, which
tells whether the two workers really had two cores. It checks that the three ways give the same F1 for every job, and also times one MLP grid
search at size S with and without early stopping (the change made to keep the MLP probe
affordable). Prints a table with the ratios to the naive loop, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "ptbxl"
DEFAULT_MODEL = REPO / "runs" / "pretrain" / "ptbxl-scar"


def naive_loop(jobs, workdir: Path) -> dict[str, float]:
    """Every job the plain way: np.load, subset, fold, GridSearchCV with balanced weights, F1."""
    from sklearn.metrics import f1_score
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from ecgfoundry.bench.embed import _safe
    from ecgfoundry.bench.probes import PROBES, balanced_weights, outer_folds
    from ecgfoundry.bench.scarcity import balanced_subset

    out = {}
    for job in jobs:
        X = np.load(workdir / "embeddings" / _safe(job.model) / _safe(job.dataset) / f"{job.pooling}.npy")
        y = np.load(workdir / "labels" / _safe(job.dataset) / f"{_safe(job.task)}.npy").astype(int)
        sub = balanced_subset(y, job.n, job.seed, min_per_class=job.k)
        Xs, ys = X[sub.indices], y[sub.indices]
        train, test = outer_folds(ys, job.k, job.seed)[job.fold]
        spec = PROBES[job.classifier]
        prefix = f"{spec.step}__" if spec.step else ""
        search = GridSearchCV(spec.factory(job.seed, 1), {prefix + k: list(v) for k, v in job.grid}, scoring="f1",
                              cv=StratifiedKFold(job.inner_k, shuffle=True, random_state=job.seed), n_jobs=1)
        search.fit(Xs[train], ys[train], **{prefix + "sample_weight": balanced_weights(ys[train])})
        out[job.key] = float(f1_score(ys[test], search.predict(Xs[test]), zero_division=0))
    return out


def mlp_early_stopping_seconds(workdir: Path, model: str, dataset: str, task: str, pooling: str, n: int,
                               seed: int = 0) -> dict:
    """One MLP grid search (default grid, inner 3-fold) on the first outer fold at size ``n``,
    with early stopping (the default) and without it."""
    from ecgfoundry.bench.embed import _safe
    from ecgfoundry.bench.probes import evaluate_fold, outer_folds, resolve_grid
    from ecgfoundry.bench.scarcity import balanced_subset

    X = np.load(workdir / "embeddings" / _safe(model) / _safe(dataset) / f"{pooling}.npy")
    y = np.load(workdir / "labels" / _safe(dataset) / f"{_safe(task)}.npy").astype(int)
    sub = balanced_subset(y, n, seed, min_per_class=5)
    Xs, ys = X[sub.indices], y[sub.indices]
    train, test = outer_folds(ys, 5, seed)[0]
    res = {}
    for es in (True, False):
        grid = resolve_grid("mlp", {"mlp": {**dict(resolve_grid("mlp")), "early_stopping": [es]}})
        t = time.perf_counter()
        r = evaluate_fold("mlp", Xs, ys, train, test, grid=grid, seed=seed)
        res["early_stopping" if es else "no_early_stopping"] = {"seconds": round(time.perf_counter() - t, 2),
                                                                "f1": round(r.f1, 4)}
    res["n"] = int(sub.n)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="run or checkpoint folder")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--task", default="CD")
    ap.add_argument("--size", default="S", help="a size of ecgfoundry.bench.scarcity.SIZES (default S = 1000)")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--pooling", default="max")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=REPO / "runs" / "bench_grid")
    ap.add_argument("--mlp-size", default="S", help="size of the MLP early-stopping timing (default S = 1000)")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    warnings.simplefilter("ignore")

    import torch

    from ecgfoundry.bench.probes import CLASSIFIERS
    from ecgfoundry.bench.runner import plan, prepare, run_jobs
    from ecgfoundry.bench.scarcity import SIZES
    from ecgfoundry.bench.sources import CheckpointSource
    from ecgfoundry.checkpoint import load_model, resolve_checkpoint
    from ecgfoundry.io.store import HarmonizeSpec, open_store

    torch.set_num_threads(1)
    if not args.data.exists():
        print(f"no data at {args.data}", file=sys.stderr)
        return 2
    ckpt = resolve_checkpoint(args.model)
    name = args.model.resolve().name
    source = CheckpointSource(load_model(ckpt), name, str(ckpt))
    store = open_store(args.data, HarmonizeSpec(fs=source.fs, seconds=10.0), REPO / "runs" / "cache", progress=False)
    work = args.work
    t = time.perf_counter()
    prepare(work, {name: source}, {store.name: store}, tasks=[args.task], poolings=[args.pooling], progress=False)
    embed_s = time.perf_counter() - t
    jobs, skipped = plan(work, [name], [store.name], tasks=[args.task], sizes={args.size: SIZES[args.size]},
                         classifiers=CLASSIFIERS, poolings=[args.pooling], k=args.folds, seed=args.seed,
                         group_by_patient=False)
    if not jobs:
        print(f"nothing to run: {skipped.to_dict('records')}", file=sys.stderr)
        return 2
    load = [os.getloadavg()[0]]
    times, f1, busy = {}, {}, {}
    for label, n_jobs in (("runner, 1 worker", 1), ("runner, 2 workers", 2)):
        shutil.rmtree(work / "results", ignore_errors=True)
        t = time.perf_counter()
        df = run_jobs(jobs, work, n_jobs=n_jobs, progress=False)
        times[label] = time.perf_counter() - t
        f1[label] = dict(zip(df["key"], df["f1"]))
        busy[label] = float(df["seconds"].sum())  # time spent inside the jobs, summed over workers
        load.append(os.getloadavg()[0])
    t = time.perf_counter()
    f1["naive sklearn loop"] = naive_loop(jobs, work)
    times["naive sklearn loop"] = time.perf_counter() - t
    load.append(os.getloadavg()[0])
    same = all(np.allclose([f1[k][j.key] for j in jobs], [f1["naive sklearn loop"][j.key] for j in jobs])
               for k in f1)
    mlp = mlp_early_stopping_seconds(work, name, store.name, args.task, args.pooling, SIZES[args.mlp_size],
                                     args.seed)

    naive = times["naive sklearn loop"]
    print(f"probe grid of {name} on {store.name} ({len(store)} records, {source.fs:g} Hz): task {args.task}, "
          f"size {args.size} (n = {jobs[0].n}), {args.pooling} pooling, {len(CLASSIFIERS)} classifiers x "
          f"{args.folds} outer folds = {len(jobs)} jobs, default grids, inner 3-fold; embeddings cached "
          f"beforehand ({embed_s:.0f} s, not timed below)")
    print(f"{'way':<22} {'wall s':>8} {'vs naive':>9} {'job-s per wall-s':>17}")
    for label, s in times.items():
        conc = f"{busy[label] / s:17.2f}" if label in busy else f"{'':>17}"
        print(f"{label:<22} {s:8.1f} {naive / s:8.2f}x {conc}")
    print("(job-s per wall-s: seconds spent inside jobs, summed over workers, per second of wall time: "
          "about 2 when both workers have a free core, about 1 when they share one)")
    print(f"same F1 for every job in all three ways: {same}; 1-min load average during the runs: "
          + ", ".join(f"{x:.1f}" for x in load) + f" on {os.cpu_count()} CPUs")
    es, no = mlp["early_stopping"], mlp["no_early_stopping"]
    print(f"MLP grid search (4 settings x 3 inner folds + refit) on one outer fold at n = {mlp['n']}: "
          f"{es['seconds']:.1f} s with early stopping (F1 {es['f1']:.3f}) vs {no['seconds']:.1f} s without "
          f"(F1 {no['f1']:.3f}): {no['seconds'] / max(es['seconds'], 1e-9):.1f}x")
    print(json.dumps({"bench": "grid", "model": name, "dataset": store.name, "task": args.task, "size": args.size,
                      "n": jobs[0].n, "folds": args.folds, "pooling": args.pooling, "jobs": len(jobs),
                      "seconds": {k: round(v, 2) for k, v in times.items()},
                      "speedup_vs_naive": {k: round(naive / v, 3) for k, v in times.items()},
                      "job_seconds_per_wall_second": {k: round(busy[k] / times[k], 2) for k in busy},
                      "same_f1": bool(same), "load": [round(x, 2) for x in load], "cpus": os.cpu_count(),
                      "mlp_size_s": mlp}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
