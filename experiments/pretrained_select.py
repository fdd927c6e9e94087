"""Model selection on the VALIDATION fold (PTB-XL fold 9) only: zero-shot macro AUROC with the packaged
prompts for each run folder / checkpoint given, so the shipped model is chosen without looking at fold 10.

    .venv/bin/python experiments/pretrained_select.py runs/ptbxl-clip runs/ptbxl-scar ... \
        --data ../shared/data/ptbxl --out results/pretrained/selection_val.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def val_zero_shot(model_path: str, store, label_set: str) -> dict:
    from sklearn.metrics import roc_auc_score

    from ecgfoundry.checkpoint import load_model, resolve_checkpoint
    from ecgfoundry.eval.prompts import load_prompts, prompts_for
    from ecgfoundry.eval.zero_shot import zero_shot_classifier, zero_shot_scores

    folder = resolve_checkpoint(model_path)
    model = load_model(folder).eval()
    batch = store.batch(store.split_indices("val"), label_set)
    prompts = prompts_for(load_prompts(), label_set, batch.classes)
    scores = zero_shot_scores(model, batch.signal, batch.observed, zero_shot_classifier(model, batch.classes, prompts))
    per = {c: float(roc_auc_score(batch.labels[:, k], scores[:, k])) for k, c in enumerate(batch.classes)}
    return {"model": model_path, "checkpoint": str(folder), "val_zero_shot_auroc": float(np.mean(list(per.values()))),
            "per_class": per, "n_val": int(len(batch.labels))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+")
    p.add_argument("--data", default="../shared/data/ptbxl")
    p.add_argument("--label-set", default="superdiagnostic")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    from ecgfoundry.io.store import HarmonizeSpec, open_store

    store = open_store(args.data, HarmonizeSpec(fs=100.0, seconds=10.0), progress=False)
    rows = [val_zero_shot(m, store, args.label_set) for m in args.models]
    for r in rows:
        print(f"{r['model']:50s} val zero-shot AUROC {r['val_zero_shot_auroc']:.3f}  "
              + " ".join(f"{c} {v:.3f}" for c, v in r["per_class"].items()))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
