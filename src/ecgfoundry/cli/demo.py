"""``make demo``: a new user's first ten minutes, end to end on the synthetic default.

1. generate the synthetic default (12-lead ECGs with labelled conditions, evidence maps and reports);
2. pretrain SCAR and the CLIP baseline with the CPU default config (``transformer-cpu``, the same step
   budget and seed for both);
3. train a small full-view reference classifier F (for hard masks and CMRS);
4. evaluate both models: zero-shot clean and under lead / temporal / joint missingness (random and
   hard masks) with CMRS, the linear probe at 1 / 10 / 100 %, FGSM / PGD curves and SCAR's masker as
   a test-time attack;
5. a small holistic benchmark of the two frozen encoders (probes with cross-validation, geometry);
6. write ``report.html`` and ``report.md`` into the demo folder and print where they are;
7. run a shipped pretrained model (``ecgfoundry models list``) on real ECGs: zero-shot on the PTB-XL
   test fold when ``../shared/data/ptbxl`` (or ``$ECGFOUNDRY_DATA/ptbxl``) is present, otherwise a note.

Every step is an ``ecgfoundry`` command; the commands, their durations and the versions are written to
``provenance.json`` so the report can say exactly what was run. On 2 CPU cores it takes about
9 minutes (measured 9 min 13 s on an idle 2-core machine with the PTB-XL step, 2026-12-03;
``--steps`` sets the pretraining budget).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

EXAMPLE = """examples:
  make demo                                            # the default: runs/demo, about 9 minutes on 2 cores
  python -m ecgfoundry.cli.demo --out runs/demo --steps 300 --n 2000
  python -m ecgfoundry.cli.demo --quick --out runs/demo-quick   # a 1-minute smoke run (tiny models)
"""


def _versions() -> dict[str, str]:
    import numpy
    import torch

    import ecgfoundry

    return {"ecgfoundry": getattr(ecgfoundry, "__version__", "?"), "python": platform.python_version(),
            "torch": torch.__version__, "numpy": numpy.__version__, "machine": platform.machine(),
            "threads": str(torch.get_num_threads())}


class _Steps:
    """Runs ``ecgfoundry`` commands in-process, timing them and recording them for provenance.json."""

    def __init__(self, out: Path, total: int, meta: dict):
        self.out, self.total, self.n = out, total, 0
        self.records: list[dict] = []
        self.meta = meta
        self.start = time.perf_counter()

    def __call__(self, title: str, argv: list[str]) -> None:
        from ecgfoundry.cli.main import main as cli

        self.n += 1
        command = "ecgfoundry " + " ".join(shlex.quote(a) for a in argv)
        print(f"\n[{self.n}/{self.total}] {title}\n$ {command}", flush=True)
        t0 = time.perf_counter()
        code = cli(argv)
        seconds = time.perf_counter() - t0
        self.records.append({"name": title, "command": command, "seconds": round(seconds, 1), "returncode": code})
        self.save()
        print(f"    ({seconds:.0f} s)", flush=True)
        if code != 0:
            raise SystemExit(f"demo step failed: {command} (exit {code}); fix the error above and run again")

    def save(self, finished: bool = False) -> None:
        data = {**self.meta, "steps": self.records, "versions": _versions(),
                "seconds": round(time.perf_counter() - self.start, 1)}
        if finished:
            data["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        (self.out / "provenance.json").write_text(json.dumps(data, indent=2))


def run(out: Path, n: int, steps: int, seed: int, quick: bool = False, bench: bool = True) -> int:
    out.mkdir(parents=True, exist_ok=True)
    data = out / "synthetic"
    cache = out / "cache"
    encoder = "transformer-tiny" if quick else "transformer-cpu"
    ref_encoder = "resnet1d-tiny" if quick else "resnet18-cpu"
    meta = {"title": "ecgfoundry demo: SCAR vs CLIP on the synthetic default", "seed": seed,
            "data": os.path.relpath(data, out), "label_set": "synthetic",  # relative to the demo folder
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "settings": {"n_records": n, "pretrain_steps": steps, "encoder": encoder, "reference": ref_encoder}}
    total = 9 if bench else 8  # synth, 2 pretrain, reference, 2 evaluate, (bench), report, shipped model
    step = _Steps(out, total, meta)
    common = ["--cache-root", str(cache)]
    step(f"generate {n} synthetic 12-lead ECGs (100 Hz, 10 s, seed {seed})",
         ["synth", "--n", str(n), "--fs", "100", "--seconds", "10", "--seed", str(seed), "--out", str(data),
          "--overwrite"])
    for preset in ("scar", "clip"):
        run_dir = out / "pretrain" / preset
        args = ["pretrain", "--preset", preset, "--encoder", encoder, "--data", str(data), "--out", str(run_dir),
                "--steps", str(steps), "--batch-size", "32", "--warmup-steps", str(max(1, steps // 10)),
                "--checkpoint-every", str(steps), "--seed", str(seed), *common]
        if (run_dir / "checkpoints" / "latest").exists():
            args.append("--resume")  # a finished run just reloads; an interrupted one continues
        step(f"pretrain {preset.upper()} ({encoder}, {steps} steps, batch 32)", args)
    ref = out / "reference"
    ref_args = ["reference", "train", "--data", str(data), "--label-set", "synthetic", "--encoder", ref_encoder,
                "--epochs", "2" if quick else "8", "--patience", "3", "--seed", str(seed), "--out", str(ref),
                "--overwrite", *common]
    step(f"train the full-view reference classifier F ({ref_encoder})", ref_args)
    for preset in ("scar", "clip"):
        args = ["evaluate", "--model", str(out / "pretrain" / preset), "--data", str(data), "--label-set", "synthetic",
                "--reference", str(ref), "--protocol", "all", "--missingness", "lead,temporal,joint",
                "--mode", "rand,hard", "--n-candidates", "4", "--seed", str(seed), "--n-boot", "200",
                "--eps", "0.01,0.03,0.1", "--pgd-steps", "10", "--out", str(out / "eval" / preset), "--overwrite",
                *common]
        if preset != "scar":
            args += ["--attack-masker", str(out / "pretrain" / "scar")]
        step(f"evaluate {preset.upper()}: zero-shot, missingness + CMRS, linear probe, adversarial", args)
    if bench:
        step("holistic benchmark of the two frozen encoders (small grid)",
             ["bench", "--models", str(out / "pretrain" / "scar"), str(out / "pretrain" / "clip"),
              "--data", str(data), "--out", str(out / "bench"), "--tasks", "AF,CD", "--sizes", "XS" if quick else "S",
              "--classifiers", "logistic_regression,decision_tree", "--folds", "5", "--pooling", "mean",
              "--workers", "2", "--seed", str(seed), *common])
    step("write the report", ["report", "--run", str(out), "--seed", str(seed)])
    _shipped_on_real_data(step, out, seed, common, quick)
    step.save(finished=True)
    html = (out / "report.html").resolve()
    print(f"\ndemo finished in {time.perf_counter() - step.start:.0f} s")
    print(f"report: {html}\n        {(out / 'report.md').resolve()}")
    print(f"open it with:  xdg-open {html}   (or any browser)")
    return 0


def real_ptbxl() -> Path | None:
    """The real PTB-XL folder beside the project (``$ECGFOUNDRY_DATA/ptbxl`` or ``../shared/data/ptbxl``)."""
    import os

    for root in (os.environ.get("ECGFOUNDRY_DATA"), "../shared/data"):
        if root and (Path(root) / "ptbxl" / "ptbxl_database.csv").exists():
            return Path(root) / "ptbxl"
    return None


def _shipped_on_real_data(step, out: Path, seed: int, common: list[str], quick: bool) -> None:
    from ecgfoundry.pretrained import list_pretrained

    shipped = list_pretrained()
    ptbxl = real_ptbxl()
    if not shipped or ptbxl is None:
        why = "no shipped model in this build" if not shipped else "no real PTB-XL beside the project"
        print(f"\nnote: skipped the shipped model on real ECGs ({why}; put PTB-XL in ../shared/data/ptbxl "
              f"or set ECGFOUNDRY_DATA)")
        step.total -= 1
        return
    name = "ptbxl-scar" if "ptbxl-scar" in shipped else shipped[0]
    step(f"shipped model {name} on the real PTB-XL test fold (zero-shot, superdiagnostic)",
         ["evaluate", "--model", name, "--data", str(ptbxl), "--label-set", "superdiagnostic", "--protocol", "zeroshot",
          "--n-boot", "100" if quick else "200", "--seed", str(seed), "--out", str(out / "real-data" / name),
          "--overwrite", *common])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ecgfoundry.cli.demo", description=__doc__, epilog=EXAMPLE,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("runs/demo"), help="demo folder (default runs/demo)")
    ap.add_argument("--n", type=int, default=2000, help="synthetic records to generate (default 2000)")
    ap.add_argument("--steps", type=int, default=300, help="pretraining steps per model (default 300)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="tiny models and budgets: a smoke run of every stage")
    ap.add_argument("--no-bench", action="store_true", help="skip the benchmark stage")
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.steps = min(args.n, 400), min(args.steps, 20)
    return run(args.out, args.n, args.steps, args.seed, quick=args.quick, bench=not args.no_bench)


if __name__ == "__main__":
    sys.exit(main())
