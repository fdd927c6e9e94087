"""Speed of the synthetic generator, side by side with neurokit2's ECGSYN in the same run.

    python benchmarks/bench_synth.py [--n 10000] [--n500 1000] [--nk 3]

ecgfoundry: 10,000 records x 12 leads x 10 s at 100 Hz, and 1,000 at 500 Hz (noise "low").
neurokit2: ``nk.ecg_simulate(duration=10, sampling_rate=fs, method="ecgsyn")`` makes ONE lead of one
record per call; a few calls are timed and extrapolated to the same number of records (stated in the
output). The ratio is therefore a lower bound of the speed-up per lead: ECGSYN would need 12 calls
(or its 12-lead variant) for the same data.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

from ecgfoundry.datasets.synthetic import generate


def time_ours(n: int, fs: float) -> float:
    start = time.perf_counter()
    generate(n, fs=fs, seconds=10, seed=0, noise="low")
    return time.perf_counter() - start


def time_neurokit(k: int, fs: float) -> float:
    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nk.ecg_simulate(duration=10, sampling_rate=int(fs), method="ecgsyn", random_state=0)  # warm-up
        start = time.perf_counter()
        for i in range(k):
            nk.ecg_simulate(duration=10, sampling_rate=int(fs), method="ecgsyn", random_state=i + 1)
        return (time.perf_counter() - start) / k


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--n500", type=int, default=1_000)
    ap.add_argument("--nk", type=int, default=3, help="neurokit2 records timed per rate")
    args = ap.parse_args()
    print(f"CPU cores available: {len(os.sched_getaffinity(0))}")
    for n, fs in ((args.n, 100.0), (args.n500, 500.0)):
        ours = time_ours(n, fs)
        per_nk = time_neurokit(args.nk, fs)
        nk_total = per_nk * n
        print(f"{n:>6} records x 10 s at {fs:g} Hz: ecgfoundry {ours:6.2f} s ({n / ours:8.0f} records/s, 12 leads); "
              f"neurokit2 ECGSYN {per_nk * 1000:7.1f} ms per single-lead record, "
              f"extrapolated from {args.nk} records: {nk_total:8.1f} s ({1 / per_nk:6.1f} records/s); "
              f"ratio {nk_total / ours:6.0f}x (per lead: {12 * nk_total / ours:6.0f}x)")


if __name__ == "__main__":
    main()
