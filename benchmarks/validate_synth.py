"""Measured figures of the synthetic generator, per condition, with independent methods.

    python benchmarks/validate_synth.py [--n 50] [--fs 500] [--seed 5]

For every condition, ``--n`` records with that condition only (NORM: none) at ``--fs`` Hz, 10 s,
noise "low", are measured WITHOUT the generator's parameters:

* ``sv``: multi-lead spatial-velocity delineation of the median beat
  (:mod:`ecgfoundry.datasets.synthetic_check`): PR, QRS, RR coefficient of variation, frontal axis,
  ST deviation at J + 60 ms vs the PR segment;
* ``nk``: neurokit2 ``ecg_peaks`` + ``ecg_delineate(method="dwt")`` on lead II (PR, QRS, RR CV).

Printed: medians over records, and the generator's own median values ("gen") for comparison.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from ecgfoundry.datasets.synthetic import generate
from ecgfoundry.datasets.synthetic_check import measure_record, neurokit_intervals
from ecgfoundry.datasets.synthetic_conditions import EVIDENCE_LEADS, STEMI_CLASSES, lead_mask
from ecgfoundry.signals.leads import LEAD_INDEX

CONDITIONS = ("NORM", "SBRAD", "STACH", "AF", "1AVB", "RBBB", "LBBB", "LAFB", "LVH", "ASTEMI", "ISTEMI",
              "LSTEMI", "TINV", "PVC", "LOWV", "LQT")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--fs", type=float, default=500.0)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    def med(v) -> float:
        v = np.asarray(v, dtype=float)
        return float(np.nanmedian(v)) if np.isfinite(v).any() else float("nan")
    print(f"{args.n} records per condition, {args.fs:g} Hz, 10 s, noise low, seed {args.seed}; medians")
    print(f"{'cond':<7} {'PR sv':>6} {'PR nk':>6} {'PR gen':>6} | {'QRS sv':>6} {'QRS nk':>6} {'QRS gen':>7} | "
          f"{'RRcv sv':>7} {'RRcv nk':>7} | {'axis sv':>7} {'gen':>5} | ST evidence / other / reciprocal (mV)")
    for c in CONDITIONS:
        ds = generate(args.n, fs=args.fs, seconds=10, seed=args.seed,
                      conditions={} if c == "NORM" else {c: 1.0}, noise="low")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sv = [measure_record(x, args.fs) for x in ds.signal]
            nk = [neurokit_intervals(x[LEAD_INDEX["II"]], args.fs) for x in ds.signal]
        g = ds.params
        line = (f"{c:<7} {med([m.get('pr_ms', np.nan) for m in sv]):6.0f} {med([m['pr_ms'] for m in nk]):6.0f} "
                f"{med(g.pr_ms):6.0f} | {med([m.get('qrs_ms', np.nan) for m in sv]):6.0f} "
                f"{med([m['qrs_ms'] for m in nk]):6.0f} {med(g.qrs_ms):7.0f} | "
                f"{med([m['rr_cv'] for m in sv]):7.3f} {med([m['rr_cv'] for m in nk]):7.3f} | "
                f"{med([m.get('axis_deg', np.nan) for m in sv]):7.0f} {med(g.axis_deg):5.0f} |")
        if c in STEMI_CLASSES:
            st = np.array([m["st_mv"] for m in sv])
            ev = lead_mask(EVIDENCE_LEADS[c])
            recip = [st[i, LEAD_INDEX[x]] for i, items in enumerate(ds.evidence) for it in items
                     if it.role == "reciprocal" for x in it.leads]
            line += (f" evidence {med(st[:, ev]):.3f} (min per record {med(st[:, ev].min(1)):.3f}, "
                     f"{100 * np.mean(st[:, ev].min(1) > 0.1):.0f} % all > 0.1) / other {med(st[:, ~ev]):.3f} "
                     f"(max per record {med(st[:, ~ev].max(1)):.3f}, {100 * np.mean(st[:, ~ev].max(1) < 0.1):.0f} % "
                     f"all < 0.1) / reciprocal {med(recip) if recip else float('nan'):.3f}")
        print(line)
    print("PR sv in AF measures f-wave activity (there is no P wave); nk = neurokit2 DWT on lead II.")


if __name__ == "__main__":
    main()
