"""Do richer frozen features lift the linear probe? (issue 20, the 0.91 probe target)

The shipped encoder's probe reads one pooled vector (the model's own pooling of the last ResNet
stage). Here scikit-learn's L2 logistic regression (one per class, C chosen on fold 9) reads three
feature sets of the same frozen ResNet, on PTB-XL superdiagnostic (train folds 1-4, fold 9, fold 10):

- ``pooled``: the model's pooling (what ``evaluate --protocol probe`` uses), 256 dims;
- ``pooled+mean+max``: plus the mean and the max over time of the last stage, 768 dims;
- ``all``: plus the mean and the max of the third stage, 1,152 dims.

Fold 10 is never used to choose. Prints one line per (features, C) and writes a JSON summary.

    .venv/bin/python experiments/probe_features.py ptbxl-scar --out results/pretrained/probe_features.json
"""

from __future__ import annotations

import argparse

import numpy as np
from probe_ceiling import sweep_c, write_result  # the same logistic-regression sweep and JSON output

C_GRID = (0.001, 0.003, 0.01, 0.03)
SETS = {"pooled": ("pooled",), "pooled+mean+max": ("pooled", "mean", "max"),
        "all": ("pooled", "mean", "max", "s3mean", "s3max")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="a shipped model's name or a run folder / checkpoint (resnet1d encoder)")
    p.add_argument("--data", default="../shared/data/ptbxl")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    import torch
    import ecgfoundry
    from ecgfoundry.io.store import HarmonizeSpec, open_store

    torch.set_num_threads(1)
    net = ecgfoundry.load(args.model)
    net = getattr(net, "model", net).eval()
    enc = net.encoder
    if enc.cfg.kind != "resnet1d":
        raise SystemExit(f"{args.model}: needs a resnet1d encoder, got {enc.cfg.kind!r}")

    third: list = []   # the third stage's output, caught while embed_tokens runs the trunk once
    enc.stages[-2].register_forward_hook(lambda _mod, _inp, out: third.append(out))

    def features(signal, observed) -> dict[str, np.ndarray]:
        out: dict[str, list] = {k: [] for k in ("pooled", "mean", "max", "s3mean", "s3max")}
        with torch.no_grad():
            for a in range(0, len(signal), 256):
                s = torch.as_tensor(np.asarray(signal[a:a + 256], np.float32))
                o = torch.as_tensor(np.asarray(observed[a:a + 256], bool))
                third.clear()
                tokens, tobs = enc.embed_tokens(s, o)          # (N, M, D): the last stage's time steps
                h3, h4 = third[0], tokens.transpose(1, 2)
                out["pooled"].append(net.pool(tokens, tobs).numpy())
                out["mean"].append(h4.mean(-1).numpy())
                out["max"].append(h4.amax(-1).numpy())
                out["s3mean"].append(h3.mean(-1).numpy())
                out["s3max"].append(h3.amax(-1).numpy())
        return {k: np.concatenate(v) for k, v in out.items()}

    store = open_store(args.data, HarmonizeSpec(fs=100.0, seconds=10.0), progress=False)
    data = {}
    for split in ("train", "val", "test"):
        b = store.batch(store.split_indices(split), "superdiagnostic")
        data[split] = (features(b.signal, b.observed), b.labels, b.classes)
    result = {"model": args.model, "C_grid": list(C_GRID), "sets": {}}
    for name, keys in SETS.items():
        X = {s: np.concatenate([data[s][0][k] for k in keys], 1) for s in data}
        per_c = sweep_c(X["train"], data["train"][1], X["val"], data["val"][1], X["test"], data["test"][1],
                        data["train"][2], C_GRID, label=name)
        best = max(per_c, key=lambda c: per_c[c][0])
        result["sets"][name] = {"dim": int(X["train"].shape[1]), "per_C_val_test": {str(c): list(v) for c, v in per_c.items()},
                                "best_C_on_val": best, "val_auroc": per_c[best][0], "test_auroc": per_c[best][1]}
    write_result(result, args.out)


if __name__ == "__main__":
    main()
