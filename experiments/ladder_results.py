"""The SCAR ablation ladder on PTB-XL (issue 20): evaluate every trained rung x seed on the test fold
and write ``results/pretrained/ladder/README.md`` (mean, sd and every seed).

    .venv/bin/python experiments/ladder_results.py [--evaluate] [--only NAME ...]

Training: ``experiments/run_ladder.sh`` (the ``ptbxl-cpu`` recipe's 1,500-step schedule, stopped
after step 750; fold-9 zero-shot of the checkpoints at steps 250 / 500 / 750 in
``runs/ladder/selection_val_*.json``, copied to ``results/pretrained/ladder/selection/``). The seed-0 randmask and SCAR runs and SCAR seed 1 are the
full 1,500-step runs of ``results/pretrained/`` (``runs/r2-*``, ``runs/r3-scar-s1``; CLIP seed 0 is
``runs/r2-clip``), whose
checkpoints at 250 / 500 / 750 are the same as a stopped run's, selected the same way.

Each run's checkpoint is the fold-9 best of steps 250 / 500 / 750 (never fold 10). ``--evaluate``
runs, for each run not evaluated yet::

    ecgfoundry evaluate --model CKPT --data ../shared/data/ptbxl --label-set superdiagnostic \\
        --protocol zeroshot,stress,probe --missingness joint --mode rand,hard \\
        --reference runs/ref-ptbxl --seed 0 --n-boot 200 --out results/pretrained/ladder/eval/NAME

(joint missingness; Rand. and Hard masks share their budgets; F = the supervised resnet-cpu of
``results/pretrained``), then the table is rebuilt from every ``metrics.json`` found.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "results" / "pretrained" / "ladder"
RUNGS = [  # (label, run-name prefix)
    ("random mask + mean pool", "scar-randmask-mean"),
    ("+ consistency", "scar-randmask-mean-cons"),
    ("adversarial mask + mean pool", "scar-advmask-mean"),
    ("adversarial mask + selector", "scar-advmask-sel"),
    ("adversarial mask + true mean pool (resnet-cpu-mean)", "scar-advmask-truemean"),
    ("SCAR (full)", "scar"),
    ("SCAR (full), one-pass min-max", "scar-onepass"),
    ("CLIP", "clip"),
    ("MERL", "merl"),
    ("CLIP, real reports (glossary)", "clip-report_glossary"),
    ("CLIP, real reports (raw)", "clip-report"),
]
SEEDS = (0, 1, 2)
# runs of results/pretrained/ that are also ladder runs: name -> (run folder, selection file)
EARLIER = {"scar-randmask-mean-s0": ("runs/r2-randmask", "runs/ladder/selection_val_early_r2-randmask.json"),
           "scar-s0": ("runs/r2-scar", "runs/ladder/selection_val_early_r2-scar.json"),
           "scar-s1": ("runs/r3-scar-s1", "runs/ladder/selection_val_early_r3-scar-s1.json"),
           "clip-s0": ("runs/r2-clip", "runs/ladder/selection_val_early_r2-clip.json")}
EVAL_ARGS = ["--data", "../shared/data/ptbxl", "--label-set", "superdiagnostic", "--protocol", "zeroshot,stress,probe",
             "--missingness", "joint", "--mode", "rand,hard", "--reference", "runs/ref-ptbxl", "--seed", "0",
             "--n-boot", "200", "--no-progress"]


def selection(name: str) -> tuple[str, float, dict] | None:
    """(checkpoint, its fold-9 zero-shot AUROC, all fold-9 values) of a run, or None when not trained."""
    run, sel = EARLIER.get(name, (f"runs/ladder/{name}", f"runs/ladder/selection_val_{name}.json"))
    path = REPO / sel
    if not path.exists():
        return None
    rows = json.loads(path.read_text())
    kept = OUT / "selection" / f"selection_val_{name}.json"  # committed copy of the fold-9 figures
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_text(json.dumps(rows, indent=1) + "\n")
    best = max(rows, key=lambda r: r["val_zero_shot_auroc"])
    return best["checkpoint"], best["val_zero_shot_auroc"], {
        Path(r["checkpoint"]).name: round(r["val_zero_shot_auroc"], 4) for r in rows}


def train_minutes(name: str) -> float | None:
    run = EARLIER.get(name, (f"runs/ladder/{name}", None))[0]
    metrics = REPO / run / "metrics.csv"
    if not metrics.exists():
        return None
    import csv

    rows = [r for r in csv.DictReader(metrics.open()) if r.get("elapsed_s") and int(r["step"]) <= 750]
    total, last = 0.0, 0.0
    for r in rows:  # a resumed run restarts its clock: add up the segments
        t = float(r["elapsed_s"])
        if t < last:
            total += last
        last = t
    return round((total + last) / 60, 1) if rows else None


def _get(d: dict, *keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def measures(metrics: dict) -> dict:
    zs = metrics.get("zero_shot", {})
    joint = _get(zs, "missingness", "joint") or {}
    out = {"zs_clean": _get(zs, "clean", "auroc")}
    for mode in ("rand", "hard"):
        cell = joint.get(mode, {})
        out[f"zs_joint_{mode}"] = cell.get("auroc")
        out[f"severity_{mode}"] = cell.get("severity")
        out[f"f_auroc_{mode}"] = cell.get("reference_auroc")
        for k in ("cmrs", "cmrs_clean", "cmrs_robust", "cmrs_self"):
            out[f"{k}_{mode}"] = cell.get(k)
    for row in metrics.get("linear_probe", []) or []:
        if row.get("missingness") in (None, "none", "clean"):
            out[f"probe_{row['fraction']:g}"] = row.get("test_auroc")
    return out


COLUMNS = [("zs_clean", "zero-shot clean", 3), ("zs_joint_rand", "joint Rand.", 3), ("zs_joint_hard", "joint Hard", 3),
           ("cmrs_hard", "CMRS Hard", 1), ("cmrs_robust_hard", "CMRS robust part, Hard", 1),
           ("probe_0.01", "probe 1 %", 3), ("probe_0.1", "probe 10 %", 3), ("probe_1", "probe 100 %", 3)]


def fmt(values: list[float], digits: int) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--evaluate", action="store_true", help="evaluate trained runs that have no metrics yet")
    p.add_argument("--only", nargs="*", default=None, help="run names (e.g. scar-s2) to evaluate")
    args = p.parse_args()
    ecg = str(REPO / ".venv" / "bin" / "ecgfoundry")
    rows = []
    for label, prefix in RUNGS:
        for seed in SEEDS:
            name = f"{prefix}-s{seed}"
            sel = selection(name)
            if sel is None:
                continue
            ckpt, val, val_all = sel
            out = OUT / "eval" / name
            if args.evaluate and not (out / "metrics.json").exists() and (args.only is None or name in args.only):
                cmd = [ecg, "evaluate", "--model", ckpt, *EVAL_ARGS, "--out", str(out.relative_to(REPO))]
                print("$", " ".join(cmd[1:]), flush=True)
                subprocess.run(cmd, cwd=REPO, check=True)
            m = json.loads((out / "metrics.json").read_text()) if (out / "metrics.json").exists() else None
            rows.append({"rung": label, "prefix": prefix, "seed": seed, "name": name, "checkpoint": ckpt,
                         "val_zero_shot": round(val, 4), "val_all": val_all, "train_min_to_750": train_minutes(name),
                         **(measures(m) if m else {})})
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "runs.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = ["# The SCAR ablation ladder on PTB-XL (fold 10, superdiagnostic)", "",
             "Produced by `.venv/bin/python experiments/ladder_results.py --evaluate` (its docstring has the "
             "training and evaluation commands). Each run: recipe `ptbxl-cpu` (resnet-cpu, statement text, batch "
             "128, the 1,500-step schedule) stopped after step 750, trained with the seed shown "
             "(`experiments/run_ladder.sh`), the checkpoint chosen on fold 9 among steps 250 / 500 / 750, "
             "evaluated on fold 10 with seed 0 (masks, probe) and 200 bootstrap resamples. Joint missingness: "
             "each record's budget drawn once and shared by Rand. and Hard; Hard = the placement, of 16, that "
             "moves the supervised reference F most. Cells: mean ± sd over the seeds evaluated (n).", "",
             "| rung | n | " + " | ".join(c[1] for c in COLUMNS) + " |",
             "|---|---|" + "---|" * len(COLUMNS)]
    for label, prefix in RUNGS:
        rs = [r for r in rows if r["prefix"] == prefix and "zs_clean" in r]
        if not rs:
            continue
        lines.append(f"| {label} | {len(rs)} | " + " | ".join(fmt([r.get(k) for r in rs], d) for k, _, d in COLUMNS)
                     + " |")
    lines += ["", "## Every run", "",
              "| run | checkpoint (fold-9 choice) | fold 9 zero-shot (250 / 500 / 750) | train min to step 750 | "
              + " | ".join(c[1] for c in COLUMNS) + " | severity Rand. / Hard | F's AUROC Rand. / Hard |",
              "|---|---|---|---|" + "---|" * len(COLUMNS) + "---|---|"]
    for r in rows:
        vals = " / ".join(str(v) for v in r["val_all"].values())
        cells = " | ".join("—" if r.get(k) is None else f"{r[k]:.{d}f}" for k, _, d in COLUMNS)
        sev = (f"{r['severity_rand']:.3f} / {r['severity_hard']:.3f}" if r.get("severity_rand") is not None else "—")
        fa = (f"{r['f_auroc_rand']:.3f} / {r['f_auroc_hard']:.3f}" if r.get("f_auroc_rand") is not None else "—")
        lines.append(f"| {r['name']} | {Path(r['checkpoint']).name} | {vals} | {r['train_min_to_750'] or '—'} | "
                     f"{cells} | {sev} | {fa} |")
    findings = OUT / "findings.md"  # the written reading of the tables, kept between rebuilds
    if findings.exists():
        lines += ["", findings.read_text().rstrip()]
    (OUT / "README.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
