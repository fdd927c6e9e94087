"""``ecgfoundry bench``: the holistic benchmark of frozen ECG embeddings (Filice et al., arXiv 2601.21830).

Embeds every dataset with every model, probes the embeddings with five classifiers (grid search
inside class-balanced stratified k-fold CV) at the data-scarcity sizes, runs the representation
analysis (SHAP top-50 features shared across datasets, kNN@10 / centroid separation / GMM ARI at
label and dataset level, UMAP), and writes tables (CSV + Markdown), figures (PNG) and summary.json
into --out. Finished jobs are kept in the work folder: re-running the same command resumes.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

EXAMPLE = """examples:
  ecgfoundry bench --models runs/scar runs/clip --data synthetic --out runs/bench-synth
  ecgfoundry bench --models runs/pretrain/ptbxl-scar runs/pretrain/ptbxl-clip \\
      --data ../shared/data/ptbxl ../shared/data/cinc2021 synthetic --split-sources --holdout ptbxl \\
      --tasks CD,AF --sizes XS,S --folds 15 --pooling last,max --workers 2 --out runs/bench
  ecgfoundry bench --models ecg-fm runs/scar --weights ecg-fm=~/models/mimic_iv_ecg_physionet_pretrained.pt \\
      --data ../shared/data/ptbxl --scheduler tcp://10.0.0.5:8786 --out runs/bench-ecgfm

models: a run folder of `ecgfoundry pretrain` (its latest checkpoint) or a checkpoint folder, a shipped
model (`ecgfoundry models list`: ptbxl-scar, ptbxl-clip), or an adapter name (hubert-ecg-small|base|large, ecgfounder, ecgfounder-1lead, ecg-fm, ecg-jepa) with
its local weights given by --weights NAME=PATH (NAME=random: random weights, smoke tests only).
LABEL=SPEC names a model in the tables. Every model gets the data at its own rate: our checkpoints at
their encoder's rate (--fs must agree) and --seconds, each adapter at the rate and length its published
pipeline starts from (500 Hz for all four); every dataset is harmonised once per rate, and a note says
when a model runs above the rate a dataset was recorded at.

data: any dataset folder ecgfoundry reads (PTB-XL, challenge .hea/.mat, CPSC2018, CODE-15%,
WFDB folder with records.csv, a synthetic folder) or a cache folder (`ecgfoundry data cache`);
`synthetic` is the synthetic default (generated once, --synthetic-n records, seed --seed).
--split-sources makes every source of a multi-source folder (the challenge's Georgia,
Chapman-Shaoxing/Ningbo, PTB-XL ...) its own dataset, named DATASET:SOURCE. --holdout DATASET keeps
only the records outside that dataset's train split (use it for the data your checkpoints were
pretrained on); the dataset is then named DATASET:val+test.

tasks: CD, AF (the datasets' binary label sets), LABEL_SET:CLASS (e.g. superdiagnostic:MI), or
NAME=SET:CLASS|SET:CLASS for a condition named differently per dataset
(e.g. STACH=rhythm:STACH|scored:STach|synthetic:STACH).

small datasets: a size the dataset cannot fill takes all of its records when the dataset lies in
that size's bin (XS < 500), k drops to the smaller class count of a cell (at least 3 of each class
are needed), and every cell's actual n and k are in the tables; cells that cannot run are listed
with the reason.
"""


def _csv(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def _tasks(text: str) -> tuple[str, ...]:
    # a comma separates tasks; commas never occur inside a task spec
    return _csv(text)


def parse_sizes(text: str) -> tuple[tuple[str, int], ...]:
    """``"XS,S"`` -> the named sizes; ``"tiny=60"`` adds a custom size."""
    from ecgfoundry.bench.scarcity import SIZES

    out = []
    for part in _csv(text):
        name, sep, n = part.partition("=")
        if sep:
            try:
                out.append((name.strip(), int(n)))
            except ValueError:
                raise ValueError(f"--sizes: {part!r} is not NAME=INTEGER") from None
        elif part in SIZES:
            out.append((part, SIZES[part]))
        else:
            raise ValueError(f"--sizes: unknown size {part!r}; use {', '.join(SIZES)} or NAME=N")
    return tuple(out)


def register(sub) -> None:
    p = sub.add_parser("bench", help="holistic benchmark of frozen embeddings (probes, SHAP, geometry, UMAP)",
                       description=__doc__, epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", required=True, metavar="MODEL",
                   help="run/checkpoint folders or adapter names (LABEL=SPEC to name one)")
    p.add_argument("--weights", nargs="+", default=[], metavar="NAME=PATH",
                   help="local weights of the adapters named in --models")
    p.add_argument("--data", nargs="+", required=True, metavar="DIR", help="dataset or cache folders, or 'synthetic'")
    p.add_argument("--out", type=Path, required=True, help="output folder (tables, figures, summary.json)")
    p.add_argument("--work", type=Path, default=None,
                   help="work folder: embeddings, labels, one file per finished job (default OUT/work)")
    p.add_argument("--split-sources", action="store_true",
                   help="benchmark every source of a multi-source folder as its own dataset (DATASET:SOURCE)")
    p.add_argument("--holdout", type=_csv, default=(), metavar="DATASET[,DATASET]",
                   help="keep only the val/test records of these datasets (the ones a checkpoint was NOT "
                        "pretrained on); shown as DATASET:val+test")
    p.add_argument("--tasks", type=_tasks, default=("CD", "AF"), help="comma-separated tasks (default CD,AF)")
    p.add_argument("--sizes", default="XS,S,M,L", help="data-scarcity sizes (default XS,S,M,L = 250,1000,2500,5000)")
    p.add_argument("--classifiers", type=_csv, default=None,
                   help="comma-separated probes (default: xgboost,decision_tree,random_forest,logistic_regression,mlp)")
    p.add_argument("--folds", type=int, default=15,
                   help="outer CV folds k (default 15; lowered per cell on small data)")
    p.add_argument("--inner-folds", type=int, default=3, help="inner grid-search folds (default 3)")
    p.add_argument("--pooling", type=_csv, default=("last", "max"),
                   help="token poolings: last,max,mean (default last,max)")
    p.add_argument("--grid", default="default", help="probe grid preset: default or fast (see bench.probes)")
    p.add_argument("--grids", default=None, metavar="JSON",
                   help='per-classifier grid overrides, e.g. \'{"mlp": {"alpha": [0.01]}}\' (or @file.json)')
    p.add_argument("--seed", type=int, default=0, help="subsets, folds, probes, SHAP, UMAP, synthetic data (default 0)")
    p.add_argument("--no-patient-groups", action="store_true", help="ignore patient ids when making folds")
    gp = p.add_mutually_exclusive_group()
    gp.add_argument("--workers", type=int, default=1, help="local joblib worker processes (default 1)")
    gp.add_argument("--scheduler", default=None, metavar="ADDRESS",
                    help="a dask.distributed scheduler (tcp://host:8786)")
    r = p.add_argument_group("representation analysis (Algorithm 1)")
    r.add_argument("--no-representation", action="store_true", help="skip SHAP, shared features, geometry, UMAP")
    r.add_argument("--repr-pooling", default="max", help="pooling it uses (default max)")
    r.add_argument("--repr-datasets", type=_csv, default=None, help="datasets it uses (default: all where a task ran)")
    r.add_argument("--top-k", type=int, default=50, help="top SHAP features per dataset (default 50)")
    r.add_argument("--n-fit", type=int, default=2500,
                   help="most records the explained probe is fitted on (default 2500)")
    r.add_argument("--n-per-dataset", type=int, default=1000,
                   help="balanced records per dataset for geometry/UMAP (default 1000)")
    r.add_argument("--no-umap", action="store_true", help="skip the UMAP projections")
    d = p.add_argument_group("data and embedding")
    d.add_argument("--fs", type=float, default=None,
                   help="rate for models without a native one (checkpoints: must equal their rate; default: "
                        "the checkpoints' rate, else 100); adapters always get their own native rate")
    d.add_argument("--seconds", type=float, default=10.0,
                   help="harmonised length in s for our checkpoints (default 10); adapters get their own")
    d.add_argument("--cache-root", type=Path, default=None,
                   help="where dataset caches go (default: $ECGFOUNDRY_CACHE/stores, else ~/.cache/ecgfoundry/stores)")
    d.add_argument("--synthetic-n", type=int, default=2000, help="records of the synthetic default (default 2000)")
    d.add_argument("--batch-size", type=int, default=64, help="records per embedding pass (default 64)")
    d.add_argument("--device", default="cpu", help="torch device for embedding (default cpu)")
    d.add_argument("--threads", type=int, default=None, help="torch threads for embedding (default: torch's)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


CONNECT_TIMEOUT = "15s"


def _connect(address: str):
    from ecgfoundry.cli.main import UsageError

    try:
        from dask.distributed import Client
    except ImportError:
        raise UsageError("--scheduler needs dask.distributed", hint="pip install 'dask[distributed]'") from None
    try:
        return Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {address} ({exc})",
                         hint="start one with `dask scheduler` and workers with `dask worker ADDRESS`, "
                              "or use --workers N") from None


def _options(args):
    from ecgfoundry.bench.pipeline import BenchOptions, grids_from_json
    from ecgfoundry.bench.probes import CLASSIFIERS
    from ecgfoundry.cli.main import UsageError

    grids = ()
    if args.grids:
        text = args.grids
        if text.startswith("@"):
            path = Path(text[1:])
            if not path.is_file():
                raise UsageError(f"--grids: no such file {path}")
            text = path.read_text()
        grids = grids_from_json(text)
    try:
        return BenchOptions(
            tasks=args.tasks, sizes=parse_sizes(args.sizes), classifiers=args.classifiers or CLASSIFIERS,
            poolings=args.pooling, k=args.folds, inner_k=args.inner_folds, seed=args.seed, grid=args.grid,
            grids=grids, group_by_patient=not args.no_patient_groups, representation=not args.no_representation,
            repr_pooling=args.repr_pooling, repr_datasets=args.repr_datasets, top_k=args.top_k, n_fit=args.n_fit,
            n_per_dataset=args.n_per_dataset, umap=not args.no_umap, batch_size=args.batch_size)
    except ValueError as exc:
        raise UsageError(str(exc), hint="see `ecgfoundry bench --help`") from None


def run(args) -> int:
    from ecgfoundry.bench.adapters import WeightsNotFoundError
    from ecgfoundry.bench.datasets import DatasetsByRate, describe
    from ecgfoundry.bench.pipeline import run_benchmark
    from ecgfoundry.bench.sources import CheckpointSource, open_source, parse_model_specs, parse_weights
    from ecgfoundry.cli.main import UsageError

    progress = not args.no_progress
    if args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    opts = _options(args)
    try:
        specs = parse_model_specs(args.models, parse_weights(args.weights))
    except ValueError as exc:
        raise UsageError(str(exc), hint="see `ecgfoundry bench --help` (models)") from None
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    sources = {}
    for spec in specs:  # load every model first: a missing weights file fails before any work
        try:
            sources[spec.label] = open_source(spec, device=args.device, batch_size=args.batch_size)
        except WeightsNotFoundError as exc:
            msg = str(exc).replace("--weights PATH", f"--weights {spec.target}=PATH")
            raise UsageError(msg, hint=f"put the weights file anywhere local and pass --weights {spec.target}=PATH"
                             ) from None
    ckpt_rates = sorted({float(s.fs) for s in sources.values() if isinstance(s, CheckpointSource)})
    if args.fs is not None and any(abs(args.fs - r) > 1e-6 for r in ckpt_rates):
        raise UsageError(f"--fs {args.fs:g} but the checkpoints expect {', '.join(f'{r:g}' for r in ckpt_rates)} Hz",
                         hint="leave --fs out: every model gets the data at its own rate")
    fs = args.fs if args.fs is not None else (ckpt_rates[0] if len(ckpt_rates) == 1 else 100.0)
    work = args.work or args.out / "work"
    by_rate = DatasetsByRate(list(args.data), args.cache_root, args.split_sources, synthetic_root=work / "data",
                             synthetic_n=args.synthetic_n, seed=args.seed, progress=progress, holdout=args.holdout,
                             fs=fs, seconds=args.seconds)
    wanted = {label: by_rate.spec_for(s) for label, s in sources.items()}
    by_rate.synthetic_fs = max(r[0] for r in wanted.values())  # generated once, at the highest rate needed
    datasets = by_rate.at(*wanted[next(iter(sources))])
    for spec in dict.fromkeys(wanted.values()):
        by_rate.at(*spec)
    data_info = by_rate.info()
    unknown = [h for h in args.holdout if not any(n == h + ":val+test" or n.startswith(h + ":") for n in datasets)]
    if unknown:
        raise UsageError(f"--holdout: unknown dataset(s) {', '.join(unknown)}",
                         hint="datasets: " + ", ".join(datasets))
    if opts.repr_datasets:
        unknown = sorted(set(opts.repr_datasets) - set(datasets))
        if unknown:
            raise UsageError(f"--repr-datasets: unknown dataset(s) {', '.join(unknown)}",
                             hint="datasets: " + ", ".join(datasets))
    rates_text = ", ".join(f"{label} at {r[0]:g} Hz, {r[1]:g} s" for label, r in wanted.items())
    print(f"benchmarking {len(sources)} model(s) ({rates_text}) on {len(datasets)} dataset(s):\n"
          f"{describe(datasets)}", file=sys.stderr)
    scheduler = _connect(args.scheduler) if args.scheduler else "local"
    command = "ecgfoundry " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if sys.argv and
                                                                  sys.argv[0].endswith("ecgfoundry") else []))
    info = {"command": command if command.strip() != "ecgfoundry" else None,
            "models": [{"label": s.label, "kind": s.kind, "target": s.target, "weights": s.weights} for s in specs],
            "datasets": data_info, "fs": {label: r[0] for label, r in wanted.items()},
            "seconds": {label: r[1] for label, r in wanted.items()},
            "scheduler": args.scheduler or f"joblib ({args.workers} worker(s))"}
    try:
        run_ = run_benchmark(sources, by_rate.for_source, args.out, work, opts, scheduler=scheduler,
                             n_jobs=args.workers, progress=progress, info=info)
    finally:
        if scheduler != "local":
            scheduler.close()
    s = run_.summary
    print(f"{s['jobs']['total']} jobs ({s['jobs']['ran_now']} run now, the rest from {work}); "
          f"{len(s['cells'])} cells, {len(s['skipped'])} skipped; {s['seconds']['total']:.0f} s")
    if len(run_.tables["headline"]):
        from ecgfoundry.bench.tables import to_markdown

        print(to_markdown(run_.tables["headline"]))
    print(f"wrote {args.out / 'tables.md'}, {args.out / 'tables'}/, {args.out / 'figures'}/, "
          f"{args.out / 'summary.json'}")
    return 0
