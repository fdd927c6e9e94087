"""Assemble results/pretrained/README.md from the evaluate folders of the runs (nothing typed by hand).

    .venv/bin/python experiments/pretrained_results.py results/pretrained/runs.json > results/pretrained/README.md

runs.json: {"header": [lines], "runs": [{"label", "eval" (an evaluate folder), "command", "eval_command",
"train_min", "val_from": [selection JSON, model path]}], "reference": {"label", "from": reference_auroc.py's
JSON, "val", "train_min", "command"}, "footer": [lines]}.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _probe(metrics: dict, fraction: float):
    for row in metrics.get("linear_probe", []) or []:
        if abs(float(row["fraction"]) - fraction) < 1e-9:
            return row
    return None


def _fmt(v, lo=None, hi=None) -> str:
    if v is None:
        return "—"
    s = f"{v:.3f}"
    return s + (f" [{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else "")


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    rows = []
    for r in spec["runs"]:
        m = json.loads((Path(r["eval"]) / "metrics.json").read_text())
        zs = (m.get("zero_shot") or {}).get("clean")
        p100, p10, p1 = _probe(m, 1.0), _probe(m, 0.1), _probe(m, 0.01)
        if "val_from" in r:  # (selection JSON, model path): the fold-9 figure as the selection script wrote it
            sel, model = r["val_from"]
            r["val"] = next(x["val_zero_shot_auroc"] for x in json.loads(Path(sel).read_text()) if x["model"] == model)
        rows.append("| " + " | ".join([
            r["label"],
            _fmt(zs["auroc"], *zs["auroc_ci"]) if zs else "—",
            _fmt(r.get("val")),
            _fmt(p1 and p1["test_auroc"]), _fmt(p10 and p10["test_auroc"]),
            _fmt(p100 and p100["test_auroc"], p100 and p100["test_auroc_low"], p100 and p100["test_auroc_high"]),
            f"{r['train_min']:.0f}" if r.get("train_min") else "—"]) + " |")
    ref = spec.get("reference")
    if ref and "from" in ref:
        measured = json.loads(Path(ref["from"]).read_text())
        ref["auroc"], ref["ci"] = measured["macro_auroc"], measured["ci"]
    if ref:
        rows.append(f"| {ref['label']} | — | {_fmt(ref.get('val'))} | — | — | {_fmt(ref['auroc'], *ref['ci'])} | "
                    f"{ref.get('train_min', '—')} |")
    print("\n".join(spec["header"]))
    print()
    print("| model | zero-shot AUROC, fold 10 [95 % CI] | zero-shot, fold 9 (selection) | probe 1 % | probe 10 % | "
          "probe 100 % [95 % CI] | training, min |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    print("## Commands")
    print()
    for r in spec["runs"]:
        print(f"- **{r['label']}**: `{r['command']}`; evaluated with `{r.get('eval_command', '')}`")
    if ref:
        print(f"- **{ref['label']}**: `{ref['command']}`")
    print()
    print("\n".join(spec.get("footer", [])))


if __name__ == "__main__":
    main()
