"""``ecgfoundry predict``: per-class zero-shot scores of a model for your own ECG records.

Each PATH is a record (``.hea`` of a WFDB or PhysioNet challenge record, with its ``.dat`` / ``.mat``)
or a dataset folder in any format the readers load. Records are harmonised to the model's sampling
rate and 10 s (the first 10 s; shorter records are zero-padded and marked unobserved) and scored
offline against the class prompts (the packaged ``prompts.json`` or ``--prompts``). A file that
cannot be read is reported with the reader's message and the others are still scored.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXAMPLE = """examples:
  ecgfoundry predict --model ptbxl-clip ../shared/data/cinc2021/HR06001.hea ../shared/data/cinc2021/JS20001.hea
  ecgfoundry predict --model ptbxl-scar ../shared/data/cinc2021 --csv runs/scores.csv --limit 20
  ecgfoundry predict --model runs/clip --label-set ptbxl/rhythm my_record.hea
Scores are cosine similarities between the ECG embedding and each class's prompt embedding (higher =
more likely; they are not calibrated probabilities). "top" is the highest-scoring class.
"""


def register(sub) -> None:
    p = sub.add_parser("predict", help="zero-shot scores of a model for your own ECG files",
                       description=__doc__, epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="record .hea files or dataset folders")
    p.add_argument("--model", required=True, help="shipped model name (ecgfoundry models list) or run folder")
    p.add_argument("--label-set", default="ptbxl/superdiagnostic",
                   help="prompt label set whose classes are scored (default ptbxl/superdiagnostic)")
    p.add_argument("--prompts", type=Path, default=None, help="prompt file (default: the packaged prompts.json)")
    p.add_argument("--csv", type=Path, default=None, help="also write the scores to this CSV file")
    p.add_argument("--limit", type=int, default=None, help="score at most this many records of a folder")
    p.add_argument("--seconds", type=float, default=10.0, help="harmonised length (default 10)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def _records(paths, limit, problems):
    """Yield (name, signal, observed, fs) for every readable record; unreadable ones go to problems."""
    from ecgfoundry.errors import EcgDataError
    from ecgfoundry.io.detect import open_dataset
    from ecgfoundry.io.wfdb_common import read_wfdb_record

    for path in paths:
        if path.is_dir():
            try:
                ds = open_dataset(path)
            except (EcgDataError, ValueError, FileNotFoundError) as exc:
                problems.append((str(path), str(exc)))
                continue
            n = len(ds) if limit is None else min(limit, len(ds))
            for i in range(n):
                try:
                    rec = ds.read(i)
                except (EcgDataError, ValueError, OSError) as exc:
                    problems.append((f"{path}[{i}]", str(exc)))
                    continue
                yield f"{path.name}/{rec.record_id}", rec.signal, rec.observed, rec.fs
        else:
            try:
                if not path.exists() and not path.with_suffix(".hea").exists():
                    raise EcgDataError(path, None, "no such file")
                signal, observed, fs = read_wfdb_record(path.with_suffix(""))
            except (EcgDataError, ValueError, OSError) as exc:
                problems.append((str(path), str(exc)))
                continue
            yield path.stem, signal, observed, fs


def run(args) -> int:
    import numpy as np

    from ecgfoundry.checkpoint import load_model, resolve_checkpoint
    from ecgfoundry.cli.main import UsageError
    from ecgfoundry.eval.prompts import load_prompts, prompt_key, prompts_for
    from ecgfoundry.eval.zero_shot import zero_shot_classifier, zero_shot_scores
    from ecgfoundry.io.store import HarmonizeSpec, harmonize
    from ecgfoundry.progress import track

    model = load_model(resolve_checkpoint(args.model)).eval()
    if not hasattr(model, "encode_text"):
        raise UsageError(f"{args.model} is an ECG-only model (no text encoder): it has no zero-shot scores",
                         hint="use an ECG-text model (ecgfoundry models list) or evaluate it with --protocol probe")
    prompts = load_prompts(args.prompts)
    try:
        key = prompt_key(prompts, args.label_set)
    except KeyError:
        raise UsageError(f"unknown prompt label set {args.label_set!r}",
                         hint=f"choose one of {', '.join(sorted(prompts))}") from None
    classes = list(prompts[key])
    classifier = zero_shot_classifier(model, classes, prompts_for(prompts, key, classes))
    spec = HarmonizeSpec(fs=model.cfg.encoder.fs, seconds=args.seconds)
    problems: list[tuple[str, str]] = []
    names, sigs, obs = [], [], []
    for name, signal, observed, fs in track(_records(args.paths, args.limit, problems), "reading records",
                                            enabled=not args.no_progress):
        s, o = harmonize(signal, observed, fs, spec)
        names.append(name)
        sigs.append(s)
        obs.append(o)
    for where, why in problems:
        print(f"skipped {where}: {why}", file=sys.stderr)
    if not names:
        print("no record could be read", file=sys.stderr)
        return 1
    scores = zero_shot_scores(model, np.stack(sigs), np.stack(obs), classifier)
    head = ["record"] + classes + ["top"]
    rows = [[n] + [f"{v:.3f}" for v in row] + [classes[int(np.argmax(row))]] for n, row in zip(names, scores)]
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    print(f"zero-shot scores ({key}, cosine similarity; higher = more likely) of {args.model}")
    for r in [head] + rows:
        print("  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths))))
    if args.csv is not None:
        import csv

        args.csv.parent.mkdir(parents=True, exist_ok=True)
        with args.csv.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(head)
            w.writerows(rows)
        print(f"wrote {args.csv}")
    return 0 if not problems else 3
