"""``ecgfoundry data inspect`` and ``ecgfoundry data cache``."""

from __future__ import annotations

import argparse
from pathlib import Path

INSPECT_EXAMPLE = """examples:
  ecgfoundry data inspect ../shared/data/ptbxl
  ecgfoundry data inspect ../shared/data/cinc2021 --label-set all
  ecgfoundry data inspect ../shared/data/ptbxl --deep      # read every signal, not just headers
  ecgfoundry data inspect runs/cache/ptbxl100              # a cache folder
  ecgfoundry data inspect ~/mitdb                          # any folder of WFDB records (no labels)
  ecgfoundry data inspect ~/mitdb --table my_labels.csv    # ... with your own index table

exit status: 0 when no problem was found, 1 when problems are listed (skipped index rows,
unreadable records), 2 when the folder cannot be opened at all.
"""

CACHE_EXAMPLE = """examples:
  ecgfoundry data cache ../shared/data/ptbxl --fs 100 --seconds 10 --out runs/cache/ptbxl100
  ecgfoundry data cache ../shared/data/cinc2021 --fs 100 --seconds 10 --out runs/cache/cinc --fail-fast
"""


def _reader_kwargs(args) -> dict:
    kw = {}
    if getattr(args, "table", None):
        kw["table"] = str(args.table)
    if getattr(args, "fail_fast", False):
        kw["errors"] = "raise"
    if getattr(args, "ptbxl_fs", None):
        kw["fs"] = args.ptbxl_fs
    if getattr(args, "folds", None):
        from ecgfoundry.datasets.splits import parse_fold_mapping

        kw["folds"] = parse_fold_mapping(args.folds)
    return kw


def _add_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", type=Path, help="dataset folder (PTB-XL, challenge, CPSC2018, CODE-15%%, "
                   "MIMIC-IV-ECG, LUDB, WFDB folder + records.csv, any folder of WFDB records) or a "
                   "cache folder")
    p.add_argument("--format", default=None, help="reader to use (default: detected from the files): "
                   "ptbxl, challenge, cpsc2018, code15, mimic_ecg, wfdb_folder, ludb, wfdb")
    p.add_argument("--table", default=None, help="your own index CSV (record, labels, text, patient_id, "
                   "split/fold, ...; path relative to the folder) for a folder of WFDB records")
    p.add_argument("--fail-fast", action="store_true", help="stop at the first bad index row or "
                   "unreadable record (default: skip it and list it with its reason)")
    p.add_argument("--ptbxl-fs", type=int, choices=(100, 500), default=None,
                   help="PTB-XL: read records100 (default) or records500")
    p.add_argument("--folds", default=None, help="fold -> split mapping, e.g. 'train=1-8,val=9,test=10'")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def register(sub) -> None:
    data = sub.add_parser("data", help="inspect datasets and build the array cache",
                          description="Inspect a dataset folder, or harmonise it once into a memory-mapped cache.")
    dsub = data.add_subparsers(dest="data_command", metavar="ACTION")

    p = dsub.add_parser("inspect", help="records, splits, label counts, fs/length histogram, problems",
                        epilog=INSPECT_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_source_args(p)
    p.add_argument("--label-set", default=None, help="label set to count (default: the dataset's own default)")
    p.add_argument("--deep", action="store_true", help="read every signal (finds corrupt files, NaN, missing leads)")
    p.set_defaults(func=run_inspect)

    p = dsub.add_parser("cache", help="harmonise a dataset into a memory-mapped array store",
                        epilog=CACHE_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_source_args(p)
    p.add_argument("--fs", type=float, default=100.0, help="target sampling rate in Hz (default 100)")
    p.add_argument("--seconds", type=float, default=10.0, help="target length in seconds (default 10)")
    p.add_argument("--crop", choices=("first", "center"), default="first",
                   help="which part of longer records to keep (default: first, as in SCAR)")
    p.add_argument("--out", type=Path, required=True, help="output folder of the cache")
    p.add_argument("--overwrite", action="store_true", help="replace an existing cache folder")
    p.set_defaults(func=run_cache)
    data.set_defaults(func=lambda a: data.print_help() or 2)


def _print_summary(s) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    con.print(f"[bold]{s.name}[/bold] ({s.reader}) at {s.root}")
    con.print(f"records: [bold]{s.n_records:,}[/bold]")
    if s.splits:
        con.print("splits: " + ", ".join(f"{k} {v:,}" for k, v in sorted(s.splits.items())))
    if s.folds:
        con.print("folds: " + ", ".join(f"{k}: {v:,}" for k, v in s.folds.items()))
    con.print(f"records with report text: {s.n_with_text:,}")
    if s.fs_counts:
        con.print("sampling rate: " + ", ".join(f"{fs:g} Hz × {n:,}" for fs, n in s.fs_counts.items()))
    if s.seconds_counts:
        items = list(s.seconds_counts.items())
        shown = ", ".join(f"{sec:g} s × {n:,}" for sec, n in items[:12])
        con.print("length: " + shown + (f", … ({len(items)} distinct)" if len(items) > 12 else ""))
    if getattr(s, "lead_counts", None):
        what = "leads observed" if s.deep else "leads"
        con.print(f"{what}: " + "; ".join(f"{k} × {v:,}" for k, v in s.lead_counts.items()))
    if s.label_sets:
        con.print("label sets: " + ", ".join(f"{k} ({v})" for k, v in s.label_sets.items()))
    elif s.reader != "ArrayStore":
        con.print("label sets: none (no labels in this folder)")
    if s.label_counts:
        t = Table(title=f"label counts ({s.label_set})")
        t.add_column("class")
        if s.label_names:
            t.add_column("name")
        t.add_column("records", justify="right")
        empty = [c for c, n in s.label_counts.items() if n == 0]
        for c, n in sorted(s.label_counts.items(), key=lambda kv: -kv[1]):
            if n:
                t.add_row(*([c, s.label_names.get(c, "")] if s.label_names else [c]), f"{n:,}")
        con.print(t)
        if empty:
            con.print(f"classes with no record ({len(empty)}): {', '.join(empty)}")
    for k, v in s.deep.items():
        con.print(f"{k}: {v:,}")
    for note in s.notes:
        con.print(f"[yellow]note:[/yellow] {note}")
    if s.problems:
        con.print(f"[red]problems found: {len(s.problems)}[/red]")
        for p in s.problems[:50]:
            con.print(f"  - {p}")
        if len(s.problems) > 50:
            con.print(f"  … and {len(s.problems) - 50} more")
    else:
        con.print("problems found: none")


def run_inspect(args) -> int:
    from ecgfoundry.io.detect import open_dataset
    from ecgfoundry.io.inspect import summarize, summarize_store

    if (args.path / "store.json").exists():
        from ecgfoundry.io.store import ArrayStore

        _print_summary(summarize_store(ArrayStore(args.path)))
        return 0
    source = open_dataset(args.path, args.format, **_reader_kwargs(args))
    summary = summarize(source, args.label_set, deep=args.deep, progress=not args.no_progress,
                        errors="raise" if args.fail_fast else "skip")
    _print_summary(summary)
    return 1 if summary.problems else 0


def run_cache(args) -> int:
    from ecgfoundry.io.detect import open_dataset
    from ecgfoundry.io.store import HarmonizeSpec, build_store

    source = open_dataset(args.path, args.format, **_reader_kwargs(args))
    spec = HarmonizeSpec(fs=args.fs, seconds=args.seconds, crop=args.crop)
    store = build_store(source, args.out, spec, errors="raise" if args.fail_fast else "skip",
                        progress=not args.no_progress, overwrite=args.overwrite)
    print(f"cached {len(store):,} of {len(source):,} records of {source.name} at {spec.fs:g} Hz × "
          f"{spec.seconds:g} s into {store.path} ({store.info['build_seconds']:.1f} s)")
    if source.problems or source.row_problems:
        print(source.problem_summary())
    return 0
