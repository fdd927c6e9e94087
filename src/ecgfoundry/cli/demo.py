"""``make demo``: what a new user sees first.

For now (the pretraining / evaluation / benchmark stages land later): generate the synthetic
default dataset, inspect it, harmonise it into the array cache, and inspect the real PTB-XL folder
when ``../shared/data/ptbxl`` is present. Every step prints what it did and where.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ecgfoundry.cli.main import main as cli

EXAMPLE = """example:
  python -m ecgfoundry.cli.demo --out runs/demo --n 2000
"""


def run(out: Path, n: int, seed: int) -> int:
    start = time.perf_counter()
    synth_dir = out / "synthetic"
    steps = []
    print(f"[1/3] generating {n} synthetic 12-lead ECGs (100 Hz, 10 s, seed {seed}) into {synth_dir}")
    steps.append(cli(["synth", "--n", str(n), "--fs", "100", "--seconds", "10", "--seed", str(seed),
                      "--out", str(synth_dir), "--overwrite"]))
    print(f"\n[2/3] inspecting {synth_dir}")
    steps.append(cli(["data", "inspect", str(synth_dir)]))
    cache = out / "cache" / "synthetic100"
    print(f"\n[3/3] caching it as memory-mapped arrays into {cache}")
    steps.append(cli(["data", "cache", str(synth_dir), "--fs", "100", "--seconds", "10",
                      "--out", str(cache), "--overwrite"]))
    ptbxl = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "ptbxl"
    if ptbxl.exists():
        print(f"\n[+] real data found: inspecting {ptbxl}")
        steps.append(cli(["data", "inspect", str(ptbxl)]))
    status = max(steps)
    print(f"\ndemo finished in {time.perf_counter() - start:.0f} s; outputs under {out.resolve()}"
          if status == 0 else "\ndemo finished with errors (see above)")
    return status


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ecgfoundry demo", description=__doc__, epilog=EXAMPLE,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("runs/demo"))
    ap.add_argument("--n", type=int, default=2000, help="synthetic records to generate")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    return run(args.out, args.n, args.seed)


if __name__ == "__main__":
    sys.exit(main())
