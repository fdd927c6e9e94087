"""Test-fold macro AUROC of a trained reference classifier F (the supervised row of results/pretrained),
with a 95 % bootstrap CI over records.

    .venv/bin/python experiments/reference_auroc.py runs/ref-ptbxl --data ../shared/data/ptbxl
"""

from __future__ import annotations

import argparse
import json


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("reference")
    p.add_argument("--data", default="../shared/data/ptbxl")
    p.add_argument("--split", default="test", choices=("val", "test"))
    p.add_argument("--n-boot", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    from ecgfoundry.eval.metrics import bootstrap_ci, macro_auroc
    from ecgfoundry.eval.reference import load_reference
    from ecgfoundry.io.store import HarmonizeSpec, open_store

    ref = load_reference(args.reference)
    store = open_store(args.data, HarmonizeSpec(fs=100.0, seconds=10.0), progress=False)
    batch = store.batch(store.split_indices(args.split), ref.info["label_set"])
    prob = ref.probability_fn()(batch.signal, batch.observed)
    score = macro_auroc(batch.labels, prob, batch.classes)
    ci = bootstrap_ci(batch.labels, prob, "auroc", n_boot=args.n_boot, seed=args.seed)
    print(json.dumps({"reference": args.reference, "split": args.split, "n": int(len(prob)),
                      "macro_auroc": score.value, "ci": list(ci.macro),
                      "per_class": dict(zip(batch.classes, map(float, score.per_class)))}))


if __name__ == "__main__":
    main()
