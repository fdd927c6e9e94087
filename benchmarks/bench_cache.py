"""Reading PTB-XL fold 10 at 100 Hz: the ecgfoundry cache versus wfdb.rdsamp record by record.

Run:  .venv/bin/python benchmarks/bench_cache.py [--data ../shared/data/ptbxl] [--fold 10]

Prints records/s of both ways, their ratio, and the peak memory (RSS high-water mark) of each,
each measured in its own child process so one does not inflate the other.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ptbxl"


def _peak_mb() -> float:
    """High-water mark of this process's resident memory (VmHWM; ru_maxrss survives exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _wfdb_worker(paths: list[str], q) -> None:
    import numpy as np
    import wfdb

    t = time.perf_counter()
    total = 0.0
    for p in paths:
        sig, _ = wfdb.rdsamp(p)
        total += float(np.asarray(sig, dtype=np.float32)[0, 0])
    q.put({"seconds": time.perf_counter() - t, "peak_mb": _peak_mb(), "n": len(paths)})


def _cache_worker(store_path: str, indices: list[int], q, batch: int = 256) -> None:
    from ecgfoundry.io.store import ArrayStore

    t = time.perf_counter()
    store = ArrayStore(store_path)
    total = 0.0
    for a in range(0, len(indices), batch):
        b = store.batch(indices[a:a + batch])
        total += float(b.signal[0, 0, 0])
    q.put({"seconds": time.perf_counter() - t, "peak_mb": _peak_mb(), "n": len(indices)})


def _run(target, *args) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q))
    p.start()
    out = q.get()
    p.join()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--fold", type=int, default=10)
    ap.add_argument("--cache", type=Path, default=None, help="reuse/build the cache here (default: a temp dir)")
    args = ap.parse_args()
    if not (args.data / "ptbxl_database.csv").exists():
        print(f"skipped: PTB-XL not found at {args.data} (pass --data)")
        return 0
    from ecgfoundry.io.ptbxl import PTBXL
    from ecgfoundry.io.store import ArrayStore, HarmonizeSpec, build_store

    src = PTBXL(args.data, fs=100)
    rows = src.split_indices("test") if args.fold == 10 else (src.table["fold"] == args.fold).to_numpy().nonzero()[0]
    tmp = tempfile.TemporaryDirectory()
    cache = args.cache or Path(tmp.name) / "ptbxl100"
    t0 = time.perf_counter()
    built = not (cache / "store.json").exists()
    if built:
        build_store(src, cache, HarmonizeSpec(fs=100, seconds=10), progress=False)
    build_s = time.perf_counter() - t0 if built else None
    store = ArrayStore(cache)
    ids = set(src.table["record_id"].iloc[rows])
    idx = [i for i, r in enumerate(store.table["record_id"]) if r in ids]
    paths = [str(Path(p).with_suffix("")) for p in src.table["path"].iloc[rows]]

    # warm the OS page cache for both so neither pays first-touch disk I/O in the timing
    _run(_wfdb_worker, paths[:50])
    _run(_cache_worker, str(cache), idx)
    w = _run(_wfdb_worker, paths)
    c = _run(_cache_worker, str(cache), idx)
    w_rate, c_rate = w["n"] / w["seconds"], c["n"] / c["seconds"]
    result = {
        "records": len(paths), "fold": args.fold,
        "wfdb_rdsamp_records_per_s": round(w_rate, 1), "cache_records_per_s": round(c_rate, 1),
        "speedup": round(c_rate / w_rate, 1),
        "wfdb_peak_mb": round(w["peak_mb"], 1), "cache_peak_mb": round(c["peak_mb"], 1),
        "cache_build_s_all_folds": None if build_s is None else round(build_s, 1),
    }
    print(f"PTB-XL fold {args.fold}, 100 Hz, {len(paths)} records")
    print(f"{'':24}{'records/s':>12}{'peak MB':>10}")
    print(f"{'wfdb.rdsamp per record':24}{w_rate:12.1f}{w['peak_mb']:10.1f}")
    print(f"{'ecgfoundry cache':24}{c_rate:12.1f}{c['peak_mb']:10.1f}")
    print(f"cache / wfdb: {c_rate / w_rate:.1f}x faster (target >= 20x)")
    if built:
        print(f"building the cache of all {len(src)} records took {build_s:.1f} s, once")
    print("peak MB is the process's resident high-water mark; for the cache it includes the "
          "memory-mapped file pages it touched (shared, reclaimable page cache)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
