"""``ecgfoundry synth``: write the synthetic dataset as a PTB-XL-like WFDB folder.

The writer and the folder layout live in :mod:`ecgfoundry.datasets.synthetic_folder`; this module
parses the flags and prints the summary.
"""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLE = """examples:
  ecgfoundry synth --n 5000 --fs 100 --seconds 10 --seed 0 --out runs/synthetic
  ecgfoundry synth --n 500 --fs 500 --noise medium --conditions "AF=0.3,LBBB=0.2" --out runs/synth_af
  ecgfoundry data inspect runs/synthetic          # then read it like any dataset
"""

def register(sub) -> None:
    p = sub.add_parser("synth", help="generate synthetic 12-lead ECGs with labels, evidence and reports",
                       description="Generate the synthetic default dataset and write it as a WFDB folder "
                                   "with records.csv, evidence.jsonl and synthetic.json.",
                       epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=5000, help="number of records (default 5000)")
    p.add_argument("--fs", type=float, default=100.0, help="sampling rate in Hz (default 100)")
    p.add_argument("--seconds", type=float, default=10.0, help="record length in s (default 10)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--noise", default="low", choices=("none", "low", "medium", "high"),
                   help="recording-noise preset (default low)")
    p.add_argument("--conditions", default=None,
                   help="proposal probabilities, e.g. 'AF=0.2,LBBB=0.1' (unnamed classes: 0; "
                        "default: the built-in prevalences)")
    p.add_argument("--mains", type=float, default=None, help="powerline frequency in Hz (default: 50 or 60 per record)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--overwrite", action="store_true", help="replace an existing non-empty output folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--use-wrsamp", action="store_true", help="write records with wfdb.wrsamp (slow)")
    p.set_defaults(func=run)


def parse_conditions(text: str | None) -> dict[str, float] | None:
    """``"AF=0.2,LBBB=0.1"`` -> ``{"AF": 0.2, "LBBB": 0.1}``; None stays None."""
    if text is None:
        return None
    out: dict[str, float] = {}
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise ValueError(f"--conditions: expected NAME=PROBABILITY, got {part!r}")
        name, value = part.split("=", 1)
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--conditions: {value!r} is not a number (in {part!r})") from None
    return out


def run(args) -> int:
    from ecgfoundry.datasets.synthetic import SyntheticConfig
    from ecgfoundry.datasets.synthetic_folder import write_synthetic_folder

    cfg = SyntheticConfig(n=args.n, fs=args.fs, seconds=args.seconds, seed=args.seed,
                          conditions=parse_conditions(args.conditions), noise=args.noise, mains_hz=args.mains)
    out: Path = args.out
    try:
        res = write_synthetic_folder(out, cfg, overwrite=args.overwrite, progress=not args.no_progress,
                                     use_wrsamp=args.use_wrsamp)
    except FileExistsError:
        from ecgfoundry.cli.main import UsageError
        raise UsageError(f"output folder {out} is not empty", hint="add --overwrite to replace it") from None
    written = res.n_records
    print(f"wrote {written} synthetic records ({cfg.fs:g} Hz, {cfg.seconds:g} s, seed {cfg.seed}, "
          f"noise {args.noise}) to {out} in {res.elapsed_s:.1f} s")
    width = max(len(c) for c in res.class_counts)
    for name, k in res.class_counts.items():
        print(f"  {name:<{width}}  {k:>6}  ({100.0 * k / max(written, 1):5.1f} %)")
    print(f"files: {out / 'records.csv'}, {out / 'evidence.jsonl'}, {out / 'synthetic.json'}, "
          f"{out / 'records'}/*.hea|.dat")
    return 0
