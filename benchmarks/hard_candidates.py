"""How Hard masks harden with the number of candidates C (the default ``N_CANDIDATES``).

For a seeded subset of test records, every kind's budget is placed 1 + (C_max - 1) times (the Rand.
placement first, as the stress test does); Hard with C candidates is the highest-impact of the first
C. Printed per kind and C: the mean impact on the reference F, F's macro AUROC under the chosen masks,
and the severity (equal for every C by construction), plus F's throughput on this machine.

    python benchmarks/hard_candidates.py --data ../shared/data/ptbxl --reference runs/ref-ptbxl \\
        --label-set superdiagnostic --records 200 --max-candidates 32
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main(argv=None) -> None:
    from ecgfoundry.eval.metrics import macro_auroc
    from ecgfoundry.eval.missingness import KINDS, apply_mask, impact, realise_masks
    from ecgfoundry.eval.reference import load_reference
    from ecgfoundry.eval.stress import cell_budget, mask_rng
    from ecgfoundry.io.store import open_store

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--reference", required=True)
    p.add_argument("--label-set", default=None)
    p.add_argument("--records", type=int, default=200)
    p.add_argument("--max-candidates", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache-root", default=None)
    args = p.parse_args(argv)
    store = open_store(args.data, cache_root=args.cache_root, progress=False)
    test = store.split_indices("test")
    pick = np.sort(np.random.default_rng(args.seed).choice(len(test), min(args.records, len(test)), replace=False))
    batch = store.batch(test[pick], args.label_set)
    fn = load_reference(args.reference).probability_fn(128)
    sig, obs, y = batch.signal, batch.observed, batch.labels
    n, _, t = sig.shape
    c_max = args.max_candidates
    start = time.perf_counter()
    p0 = fn(sig, obs)
    calls = n
    print(f"{n} test records; F clean macro AUROC {macro_auroc(y, p0).value:.3f}")
    print("| kind | C | severity | mean impact on F | F macro AUROC |")
    print("|---|---|---|---|---|")
    for kind in KINDS:
        budget = cell_budget(args.seed, kind, n, t)
        cands = np.concatenate([realise_masks(budget, mask_rng(args.seed, kind, "rand"))[:, None],
                                realise_masks(budget, mask_rng(args.seed, kind, "hard"), c_max - 1)], axis=1)
        probs = np.stack([fn(*apply_mask(sig, obs, cands[:, j])) for j in range(c_max)], axis=1)  # (n, C, K)
        calls += n * c_max
        imp = impact(p0[:, None], probs)  # (n, C)
        c = 1
        while c <= c_max:
            best = imp[:, :c].argmax(axis=1)
            chosen = probs[np.arange(n), best]
            sev = cands[np.arange(n), best].reshape(n, -1).mean(axis=1).mean()
            label = "1 (Rand.)" if c == 1 else str(c)
            print(f"| {kind} | {label} | {sev:.4f} | {imp[np.arange(n), best].mean():.4f} | "
                  f"{macro_auroc(y, chosen).value:.3f} |")
            c *= 2
    dt = time.perf_counter() - start
    print(f"F throughput: {calls / dt:.0f} records/s ({calls} forward passes in {dt:.0f} s)")


if __name__ == "__main__":
    main()
