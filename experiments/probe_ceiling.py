"""Is the linear-probe protocol what holds the probe AUROC at 0.89? (issue 20)

The toolkit's probe (``eval.linear_probe.LinearProbe``: one linear layer, Adam, epoch chosen on
fold 9) against scikit-learn's L2 logistic regression, one per class, with C chosen on fold 9 among
six values, on the same frozen pooled features (train folds 1-4, fold 9, fold 10; PTB-XL
superdiagnostic). Prints each C's (fold 9, fold 10) macro AUROC and a JSON line; fold 10 is never
used to choose.

    .venv/bin/python experiments/probe_ceiling.py ptbxl-scar [--out results/pretrained/probe_ceiling.json]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 1.0)


def sweep_c(xtr, ytr, xv, yv, xte, yte, classes, grid, label: str = "") -> dict[float, tuple[float, float]]:
    """Standardise on train, fit one L2 logistic regression per class for each C in ``grid``;
    ``{C: (fold-9 macro AUROC, fold-10 macro AUROC)}``, each line printed as it is done."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from ecgfoundry.eval.metrics import macro_auroc

    scaler = StandardScaler().fit(xtr)
    xtr, xv, xte = scaler.transform(xtr), scaler.transform(xv), scaler.transform(xte)
    per_c = {}
    for c in grid:
        val, test = [], []
        for k in range(ytr.shape[1]):
            lr = LogisticRegression(C=c, max_iter=2000).fit(xtr, ytr[:, k])
            val.append(lr.decision_function(xv))
            test.append(lr.decision_function(xte))
        per_c[c] = (macro_auroc(yv, np.stack(val, 1), classes).value, macro_auroc(yte, np.stack(test, 1), classes).value)
        print(*([label, xtr.shape[1]] if label else []), c, *(round(v, 4) for v in per_c[c]), flush=True)
    return per_c


def write_result(result: dict, out: str | None) -> None:
    """Print the result as one JSON line, and write it (indented) to ``out`` when given."""
    print(json.dumps(result))
    if out:
        with open(out, "w") as f:
            json.dump(result, f, indent=2)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="a shipped model's name or a run folder / checkpoint")
    p.add_argument("--data", default="../shared/data/ptbxl")
    p.add_argument("--out", default=None, help="write the JSON result here too")
    args = p.parse_args()
    import torch
    import ecgfoundry
    from ecgfoundry.eval.heads import encoder_features
    from ecgfoundry.io.store import HarmonizeSpec, open_store

    torch.set_num_threads(1)
    model = ecgfoundry.load(args.model)
    net = getattr(model, "model", model)
    store = open_store(args.data, HarmonizeSpec(fs=100.0, seconds=10.0), progress=False)
    feats = {}
    for split in ("train", "val", "test"):
        b = store.batch(store.split_indices(split), "superdiagnostic")
        feats[split] = (encoder_features(net, b.signal, b.observed, batch_size=256), b.labels, b.classes)
    (xtr, ytr, classes), (xv, yv, _), (xte, yte, _) = feats["train"], feats["val"], feats["test"]
    per_c = sweep_c(xtr, ytr, xv, yv, xte, yte, classes, C_GRID)
    best = max(per_c, key=lambda c: per_c[c][0])
    result = {"model": args.model, "dim": int(xtr.shape[1]), "n_train": int(len(xtr)), "C_grid": list(C_GRID),
              "per_C_val_test": {str(c): list(v) for c, v in per_c.items()}, "best_C_on_val": best,
              "val_auroc": per_c[best][0], "test_auroc": per_c[best][1],
              "command": f".venv/bin/python experiments/probe_ceiling.py {args.model}"}
    write_result(result, args.out)


if __name__ == "__main__":
    main()
