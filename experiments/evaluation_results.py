"""Issue 5's committed results: zero-shot under missingness with CMRS, linear probe, adversarial curves.

Run:  .venv/bin/python experiments/evaluation_results.py [--datasets synthetic,ptbxl] [--seed 0]

Every step is an ``ecgfoundry`` command (printed, and written at the top of each results file), so
each number can be reproduced from the command line alone:

- **synthetic**: the 3,000-record synthetic set and the two 2,000-step ``transformer-tiny`` runs of
  ``benchmarks/known_answers_pretrain.py`` (SCAR full and random-mask + mean-pool, training seed 0);
- **ptbxl**: ``../shared/data/ptbxl`` at 100 Hz, fold 1 train, 9 validation, 10 test, label set
  superdiagnostic; SCAR and random-mask + mean-pool pretrained on fold 1 with the CPU default
  (``transformer-cpu``, 1,500 steps, batch 32, seed 0, text = English SCP statement descriptions).

For each dataset a reference classifier F (``resnet18-cpu``, trained on the training split, early
stopping on validation macro AUROC) is trained once and shared by both models, then each model is
evaluated with ``--protocol all``: zero-shot clean and under lead / temporal / joint missingness with
random and hard masks (CMRS), the linear probe at 1 / 10 / 100 %, FGSM and PGD (L-inf, epsilon in mV)
against the zero-shot and probe heads, and SCAR's masker as a test-time attack (the SCAR run's
masker also attacks the random-mask model: a transfer attack). Same seeds for both models.
Writes ``results/evaluation/<dataset>/<model>/`` (metrics.json, report.md, CSV, PNG) and
``results/evaluation/README.md`` (side-by-side summary).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ECG = [str(REPO / ".venv" / "bin" / "ecgfoundry")]

DATASETS = {
    "synthetic": {
        "data": "runs/known_answers/synth-n3000-seed0/data",
        "label_set": "synthetic",
        "models": {"scar": "runs/known_answers/scar-transformer-tiny-steps2000-seed0-data0-n3000",
                   "randmask": "runs/known_answers/scar-randmask-mean-transformer-tiny-steps2000-seed0-data0-n3000"},
        "trained_by": "`.venv/bin/python benchmarks/known_answers_pretrain.py` (transformer-tiny, 2,000 steps, "
                      "batch 32, seed 0; data `ecgfoundry synth --n 3000 --seed 0`)",
    },
    "ptbxl": {
        "data": "../shared/data/ptbxl",
        "label_set": "superdiagnostic",
        "models": {"scar": "ptbxl-scar", "randmask": "runs/r2-randmask/checkpoints/step_0000750"},
        "reference": "runs/ref-ptbxl",  # the supervised resnet-cpu of results/pretrained (its command there)
        "attack_masker": False,  # a resnet1d SCAR masker gates time steps, not signal cells: no masker attack
        "trained_by": "the `ptbxl-cpu` recipe on folds 1-4 (`results/pretrained/README.md`, "
                      "`results/pretrained/ladder/`): the shipped `ptbxl-scar` (`ecgfoundry pretrain --preset scar "
                      "--recipe ptbxl-cpu --seed 2 --stop-at 750`, step 500) and `ecgfoundry pretrain --preset "
                      "scar-randmask-mean --recipe ptbxl-cpu --seed 0`, step 750; both chosen on fold 9",
    },
}
NAMES = {"scar": "SCAR (full)", "randmask": "random mask + mean pool"}


def run(cmd: list[str]) -> str:
    text = "ecgfoundry " + " ".join(cmd)
    print(f"$ {text}", flush=True)
    subprocess.run(ECG + cmd, check=True, cwd=REPO)
    return text


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default="synthetic,ptbxl")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eps", default="0.005,0.01,0.02,0.05", help="attack budgets in mV")
    p.add_argument("--pgd-steps", type=int, default=10)  # evaluate refuses fewer
    p.add_argument("--attack-records", type=int, default=500, help="test records attacked by FGSM / PGD")
    p.add_argument("--n-boot", type=int, default=1000)
    p.add_argument("--out", type=Path, default=REPO / "results" / "evaluation")
    p.add_argument("--overwrite", action="store_true")
    args = p.parse_args()
    from ecgfoundry.checkpoint import resolve_checkpoint

    commands: dict[str, list[str]] = {}
    for ds in args.datasets.split(","):
        spec = DATASETS[ds]
        for m, run_dir in spec["models"].items():
            try:
                resolve_checkpoint(run_dir if not (REPO / run_dir).exists() else REPO / run_dir)
            except (FileNotFoundError, ValueError, KeyError):
                sys.exit(f"{run_dir}: no checkpoint; train it first with {spec['trained_by']}")
        ref = spec.get("reference", f"runs/evaluation/{ds}-reference")
        cmds = commands.setdefault(ds, [])
        if "reference" in spec:
            if not (REPO / ref / "reference.json").exists():
                sys.exit(f"{ref}: the reference classifier is missing (see results/pretrained/README.md)")
            cmds.append(f"# reference F: {ref} (trained by the command in results/pretrained/README.md)")
        elif not (REPO / ref / "reference.json").exists():
            cmds.append(run(["reference", "train", "--data", spec["data"], "--label-set", spec["label_set"],
                             "--encoder", "resnet18-cpu", "--epochs", "10", "--patience", "3",
                             "--seed", str(args.seed), "--out", ref, "--overwrite", "--no-progress"]))
        else:
            cmds.append(f"ecgfoundry reference train --data {spec['data']} --label-set {spec['label_set']} "
                        f"--encoder resnet18-cpu --epochs 10 --patience 3 --seed {args.seed} --out {ref}  (reused)")
        for m, run_dir in spec["models"].items():
            out = args.out / ds / m
            cmd = ["evaluate", "--model", run_dir, "--data", spec["data"], "--label-set", spec["label_set"],
                   "--reference", ref, "--protocol", "all", "--missingness", "lead,temporal,joint",
                   "--mode", "rand,hard", "--seed", str(args.seed), "--n-boot", str(args.n_boot),
                   "--eps", args.eps, "--eps-unit", "mV", "--norm", "linf", "--pgd-steps", str(args.pgd_steps),
                   "--attack-records", str(args.attack_records), "--out", str(out.relative_to(REPO)), "--no-progress"]
            if m != "scar" and spec.get("attack_masker", True):
                cmd += ["--attack-masker", spec["models"]["scar"]]
            if (out / "metrics.json").exists() and not args.overwrite:
                cmds.append("ecgfoundry " + " ".join(cmd) + "   # output kept from an earlier run")
                continue
            if out.exists():
                shutil.rmtree(out)
            cmds.append(run(cmd))
        summarize(args.out, ds, spec, cmds)
    write_index(args.out)
    return 0


def _f(x, nd=3):
    return "n/a" if x is None else f"{x:.{nd}f}"


def summarize(root: Path, ds: str, spec: dict, cmds: list[str]) -> None:
    ms = {m: json.loads((root / ds / m / "metrics.json").read_text()) for m in spec["models"]}
    any_m = next(iter(ms.values()))
    lines = [f"# {ds}: SCAR vs random mask + mean pool", "",
             f"Data `{spec['data']}`, label set `{spec['label_set']}`, {any_m['n_train']} train / {any_m['n_val']} "
             f"validation / {any_m['n_test']} test records; seed {any_m['seed']}, {any_m['n_boot']} bootstrap "
             f"resamples, {any_m['n_candidates']} candidate masks per record for hard masks.",
             f"Models trained by {spec['trained_by']}.", "", "Commands (in order):", "", "```"] + cmds + ["```", "",
             "## Zero-shot macro AUROC [95 % CI] and CMRS", "",
             "CMRS = the documented score; clean = the same with G's clean-view prediction (its agreement with F "
             "alone); robust = CMRS - clean, the part the masks are responsible for (docs/stress_test.md). Severity "
             "(fraction of the grid removed) is equal for Rand. and Hard by construction; F's AUROC shows how much "
             "harder Hard is for the reference.", "",
             "| condition | severity | F's AUROC | " + " | ".join(f"{NAMES[m]} AUROC | CMRS | clean | robust"
                                                             for m in ms) + " |",
             "|---|---|---|" + "---|---|---|---|" * len(ms)]
    conds = [("clean", None)] + [(k, mo) for k in ("lead", "temporal", "joint") for mo in ("rand", "hard")]
    for kind, mode in conds:
        cells, first = [], None
        for m, d in ms.items():
            c = d["zero_shot"]["clean"] if mode is None else d["zero_shot"]["missingness"].get(kind, {}).get(mode)
            if c is None:
                cells += ["-"] * 4
                continue
            first = first or c
            ci = c.get("auroc_ci") or [None, None]
            cells += [f"{_f(c['auroc'])} [{_f(ci[0])}, {_f(ci[1])}]"] + (
                ["-"] * 3 if mode is None else [_f(c.get(k), 1) for k in ("cmrs", "cmrs_clean", "cmrs_robust")])
        sev = "0" if mode is None else _f((first or {}).get("severity"))
        fa = _f((first or {}).get("reference_auroc"))
        lines.append(f"| {kind if mode is None else kind + ' ' + mode} | {sev} | {fa} | " + " | ".join(cells) + " |")
    lines += ["", "## Linear probe (frozen encoder): test macro AUROC [95 % CI]", "",
              "| training fraction | " + " | ".join(NAMES[m] for m in ms) + " |", "|---|" + "---|" * len(ms)]
    fracs = [r["fraction"] for r in next(iter(ms.values())).get("linear_probe", [])]
    for i, fr in enumerate(fracs):
        cells = []
        for d in ms.values():
            r = d["linear_probe"][i]
            cells.append(f"{_f(r['test_auroc'])} [{_f(r.get('test_auroc_low'))}, {_f(r.get('test_auroc_high'))}] "
                         f"(n={r['n_train']})")
        lines.append(f"| {fr:g} | " + " | ".join(cells) + " |")
    lines += ["", "## Adversarial: macro AUROC / top-1 accuracy against epsilon (L-inf, mV)", "",
              "| head | attack | eps | " + " | ".join(NAMES[m] for m in ms) + " |", "|---|---|---|" + "---|" * len(ms)]
    keys = [(r["head"], r["attack"], r["eps"]) for r in any_m.get("adversarial", [])]
    for key in keys:
        cells = []
        for d in ms.values():
            r = next((r for r in d.get("adversarial", []) if (r["head"], r["attack"], r["eps"]) == key), None)
            cells.append("-" if r is None else f"{_f(r['auroc'])} / {_f(r.get('accuracy'))}")
        lines.append(f"| {key[0]} | {key[1]} | {key[2]:g} | " + " | ".join(cells) + " |")
    lines += ["", "## SCAR's masker as a test-time attack (zero-shot macro AUROC / top-1 accuracy)", "",
              "The SCAR run's masker removes the top-rho tokens of each test record (for the random-mask model this "
              "is a transfer attack); the control removes as many tokens at random.", "",
              "| removal | severity | " + " | ".join(NAMES[m] for m in ms) + " |", "|---|---|" + "---|" * len(ms)]
    for i, r0 in enumerate(any_m.get("masker_attack", [])):
        cells = []
        for d in ms.values():
            r = d["masker_attack"][i]
            cells.append(f"{_f(r['auroc'])} / {_f(r.get('accuracy'))}")
        lines.append(f"| {r0['attack']} | {_f(r0['severity'])} | " + " | ".join(cells) + " |")
    lines += ["", "Per-model details (per-class tables, figures): "
              + ", ".join(f"[{NAMES[m]}]({m}/report.md)" for m in ms), ""]
    (root / ds / "summary.md").write_text("\n".join(lines))
    print((root / ds / "summary.md").read_text())


def write_index(root: Path) -> None:
    parts = ["# Evaluation results (issues 5 and 18)", "",
             "Produced by `.venv/bin/python experiments/evaluation_results.py` (seed 0); see each summary for the "
             "exact commands.", ""]
    for ds in DATASETS:
        if (root / ds / "summary.md").exists():
            stale = any("cmrs_clean" not in json.dumps(json.loads(m.read_text()).get("zero_shot", {}))
                        for m in (root / ds).glob("*/metrics.json"))
            parts.append(f"- [{ds}]({ds}/summary.md)" + (
                " (not re-run yet: written by the protocol before issue 18 - unmatched Rand./Hard budgets, "
                "no cmrs_clean, 3-step PGD; its models come from `benchmarks/known_answers_pretrain.py`)"
                if stale else ""))
    parts += ["", "## What changed with the evaluation issue (18)", "",
              "- Rand. and Hard masks share each record's budget, so their severities are equal; Hard is the "
              "placement, of 16 (was 8), that moves the reference F most, and every cell reports F's own AUROC: "
              "Hard is much harder for F (PTB-XL joint: 0.827 Rand. vs 0.684 Hard) while the pretrained encoders "
              "lose almost nothing under either.",
              "- Beside CMRS, `cmrs_clean` (G's clean view in place of the masked one) and `cmrs_robust = cmrs - "
              "cmrs_clean`: on PTB-XL the robust part is between -3.2 and +0.1 in every cell, so the CMRS figures "
              "(about 46-52) measure the encoders' clean agreement with F, not their robustness. "
              "`cmrs_self` compares G's masked view with its own clean view.",
              "- PGD: random start, 10 steps of 2.5 eps / 10, each record's highest-loss point (FGSM's "
              "included), then PGD's point kept only where it does not raise the macro AUROC reached from FGSM's: "
              "PGD <= FGSM at every eps, and a `worst` row per eps. The earlier 3-step PGD was weaker than FGSM.",
              "- The linear probe trains with batch 128 (was 256).",
              "- PTB-XL: the models are now the `ptbxl-cpu` recipe's (resnet-cpu, folds 1-4; the shipped "
              "`ptbxl-scar` and its random-mask ablation), and F is the supervised resnet-cpu of "
              "`results/pretrained`; the earlier files evaluated transformer-cpu models trained on fold 1, near "
              "chance (zero-shot 0.585 / 0.598). SCAR's masker attack is not run: a resnet1d masker gates time "
              "steps of the last feature map, which have no place on the signal grid.",
              "- Synthetic (re-run on 2026-12-03 with models retrained by the current code, same command and "
              "seed; F retrained too): Hard is harder for F in every cell (lead 0.727 Rand. vs 0.623 Hard, "
              "temporal 0.779 vs 0.639, joint 0.642 vs 0.542) while both encoders move by at most 0.005; the "
              "robust part of CMRS is between -1.0 and +0.8, and the earlier CMRS gap between the random-mask "
              "model (38-41) and SCAR (29-32) is gone (25.0-26.8 vs 24.0-26.5): it was clean agreement with "
              "an earlier F, not robustness. Under the full-strength PGD, SCAR keeps more at 0.05 mV than the "
              "ablation (zero-shot 0.594 vs 0.507, probe 0.451 vs 0.317; one seed, 300 records, no CI), and "
              "its masker used as an attack (30 % of tokens) costs 0.09 AUROC where as many random tokens cost "
              "0.003.",
              "- What still holds from the earlier files: zero-shot and probe AUROC barely move under "
              "missingness, and the SCAR-vs-ablation differences sit inside the CIs."]
    (root / "README.md").write_text("\n".join(parts) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
