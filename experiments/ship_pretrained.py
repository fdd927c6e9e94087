"""Copy a trained run into the package as a shipped model, with its model card.

    .venv/bin/python experiments/ship_pretrained.py --run runs/ptbxl-scar --name ptbxl-scar \
        --eval runs/eval-ptbxl-scar --command "ecgfoundry pretrain --preset scar --recipe ptbxl-cpu ..."

Writes ``src/ecgfoundry/pretrained/NAME/`` (model.safetensors, model.json, meta.json, card.json,
MODEL_CARD.md). The metrics are read from the ``evaluate`` folder (fold 10, test) and the selection
figures from ``--select`` (fold 9, validation); nothing is typed in by hand.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "ecgfoundry" / "pretrained"


def _probe(metrics: dict, fraction: float) -> dict | None:
    for row in metrics.get("linear_probe", []) or []:
        if abs(float(row.get("fraction", -1)) - fraction) < 1e-9:
            return row
    return None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, type=Path)
    p.add_argument("--name", required=True)
    p.add_argument("--eval", required=True, type=Path, help="evaluate --protocol zeroshot,probe output folder")
    p.add_argument("--select", type=Path, default=None, help="validation selection JSON (experiments/pretrained_select.py)")
    p.add_argument("--command", required=True, help="the pretrain command that produced the run")
    p.add_argument("--wall-min", type=float, default=None, help="training wall time, minutes")
    p.add_argument("--wall-note", default="one thread on a shared 2-core CPU machine", help="how the time was measured")
    p.add_argument("--text-source", default="statements", help="the text the run was trained on (the recipe's)")
    args = p.parse_args()

    from ecgfoundry.checkpoint import resolve_checkpoint

    folder = resolve_checkpoint(args.run)
    cfg = json.loads((folder / "model.json").read_text())
    train = json.loads((folder / "train.json").read_text())
    meta = json.loads((folder / "meta.json").read_text())
    metrics = json.loads((args.eval / "metrics.json").read_text())
    zs = metrics["zero_shot"]["clean"]
    probe = {f: _probe(metrics, f) for f in (0.01, 0.1, 1.0)}
    val = None
    if args.select is not None:
        for row in json.loads(args.select.read_text()):
            if Path(row["checkpoint"]).resolve() == folder.resolve():
                val = row
    out = PACKAGE / args.name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for f in ("model.safetensors", "model.json", "meta.json"):
        shutil.copy2(folder / f, out / f)
    text_source = args.text_source
    card = {
        "name": args.name, "objective": cfg["objective"], "encoder": cfg["encoder"]["kind"] + " (resnet-cpu)"
        if cfg["encoder"]["kind"] == "resnet1d" else cfg["encoder"]["kind"],
        "text_source": text_source, "text_model": cfg["text"]["model"], "text_pooling": cfg["text"].get("pooling", "text"),
        "data": "PTB-XL 1.0.3, 100 Hz, 10 s; trained on strat_fold 1-4 (8,722 records), selected on fold 9, "
                "evaluated on fold 10 (2,198 records)",
        "command": args.command, "seed": train["seed"], "steps": meta["step"], "batch_size": train["batch_size"],
        "wall_min": args.wall_min,
        "metrics": {"zero_shot_auroc": zs["auroc"], "zero_shot_auroc_ci": zs.get("auroc_ci"),
                    "zero_shot_per_class": {c["class"]: c["auroc"] for c in zs.get("per_class", [])},
                    **{f"probe_auroc_{int(f * 100) if f >= 0.1 else 1}": (r or {}).get("test_auroc")
                       for f, r in probe.items()},
                    "probe_auroc_100_ci": [(probe[1.0] or {}).get("test_auroc_low"), (probe[1.0] or {}).get("test_auroc_high")]},
        "validation": val and {"zero_shot_auroc": val["val_zero_shot_auroc"]},
        "evaluated_on": "PTB-XL fold 10 (test), superdiagnostic, macro AUROC with 95 % bootstrap CIs "
                        f"({metrics.get('n_boot', 1000)} resamples); "
                        + (metrics.get("command") or "ecgfoundry evaluate --protocol zeroshot,probe --seed 0"),
        "input": "12 leads (I, II, III, aVR, aVL, aVF, V1-V6) in mV, 100 Hz, 10 s (1,000 samples), with an observed "
                 "mask; each lead is z-scored inside the encoder, so any gain or baseline offset is accepted",
        "licence": "weights: MIT (this package); trained on PTB-XL (CC-BY 4.0, Wagner et al., Sci Data 7:154, 2020)",
    }
    (out / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    m = card["metrics"]
    ci = m["zero_shot_auroc_ci"] or [float("nan")] * 2
    pci = m["probe_auroc_100_ci"]
    lines = [
        f"# {args.name}", "",
        f"An ECG–text model ({cfg['objective'].upper()}, {card['encoder']}, frozen all-MiniLM-L6-v2 text encoder) "
        f"trained by ecgfoundry's CPU recipe `ptbxl-cpu` on PTB-XL.", "",
        "| | |", "|---|---|",
        f"| data | {card['data']} |",
        f"| text | SCP statement descriptions ({card['text_source']}), text pooling `{card['text_pooling']}` |",
        f"| command | `{args.command}` |",
        f"| seed | {card['seed']} (checkpoint at step {card['steps']} of a {train['steps']:,}-step run, batch {card['batch_size']}"
        + (f"; the whole run took {args.wall_min:.0f} min, {args.wall_note}" if args.wall_min else "") + ") |",
        f"| zero-shot macro AUROC, fold 10 | {m['zero_shot_auroc']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}] |",
        f"| linear probe at 1 / 10 / 100 %, fold 10 | {m['probe_auroc_1']:.3f} / {m['probe_auroc_10']:.3f} / "
        f"{m['probe_auroc_100']:.3f} [{pci[0]:.3f}, {pci[1]:.3f}] |",
        f"| validation (fold 9) zero-shot, used for selection | "
        + (f"{val['val_zero_shot_auroc']:.3f}" if val else "—") + " |",
        f"| input contract | {card['input']} |",
        f"| licence | {card['licence']} |", "",
        "Zero-shot uses the packaged prompts (`ecgfoundry/data/prompts.json`, `ptbxl/superdiagnostic`). "
        "Reproduce the figures: `ecgfoundry evaluate --model " + args.name + " --data ../shared/data/ptbxl "
        "--label-set superdiagnostic --protocol zeroshot,probe --out DIR`.", "",
        "Per-class zero-shot AUROC: " + ", ".join(f"{c} {v:.3f}" for c, v in m["zero_shot_per_class"].items()) + ".",
    ]
    (out / "MODEL_CARD.md").write_text("\n".join(lines) + "\n")
    size = (out / "model.safetensors").stat().st_size / 1e6
    print(f"shipped {args.name} -> {out} ({size:.1f} MB)")


if __name__ == "__main__":
    main()
