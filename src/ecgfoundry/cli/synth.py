"""``ecgfoundry synth``: write the synthetic dataset as a PTB-XL-like WFDB folder.

Layout (read by :class:`ecgfoundry.io.wfdb_folder.WFDBFolder`)::

    OUT/
      records.csv        record, record_id, labels (';'-separated), text, patient_id, fold (1-10:
                         1-8 train, 9 val, 10 test), age, sex, and the generator's parameters
      label_sets.json    the class list in its canonical order ("synthetic")
      evidence.jsonl     one line per record: {"record": id, "evidence": [{label, role, leads, spans}]}
      synthetic.json     configuration, seed, ecgfoundry version, storage notes
      records/00001.hea  WFDB header + 16-bit data, 12 leads in canonical order
      records/00001.dat

Storage: format 16 (little-endian int16), ADC gain 1000 per mV, baseline 0, so one ADC unit is
1 uV, the quantisation error is at most 0.5 uV and the range is +-32.7 mV (the same as PTB-XL).
Headers and data are byte-identical to ``wfdb.wrsamp`` output (checked in the tests) but written
directly, because ``wrsamp`` costs about 10 ms per record (``--use-wrsamp`` switches to it).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np

EXAMPLE = """examples:
  ecgfoundry synth --n 5000 --fs 100 --seconds 10 --seed 0 --out runs/synthetic
  ecgfoundry synth --n 500 --fs 500 --noise medium --conditions "AF=0.3,LBBB=0.2" --out runs/synth_af
  ecgfoundry data inspect runs/synthetic          # then read it like any dataset
"""

ADC_GAIN = 1000.0  # ADC units per mV: 1 uV resolution


def register(sub) -> None:
    p = sub.add_parser("synth", help="generate synthetic 12-lead ECGs with labels, evidence and reports",
                       description="Generate the synthetic default dataset and write it as a WFDB folder "
                                   "with records.csv, evidence.jsonl and synthetic.json.",
                       epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=5000, help="number of records (default 5000)")
    p.add_argument("--fs", type=float, default=100.0, help="sampling rate in Hz (default 100)")
    p.add_argument("--seconds", type=float, default=10.0, help="record length in s (default 10)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--noise", default="low", choices=("none", "low", "medium", "high"),
                   help="recording-noise preset (default low)")
    p.add_argument("--conditions", default=None,
                   help="proposal probabilities, e.g. 'AF=0.2,LBBB=0.1' (unnamed classes: 0; "
                        "default: the built-in prevalences)")
    p.add_argument("--mains", type=float, default=None, help="powerline frequency in Hz (default: 50 or 60 per record)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--overwrite", action="store_true", help="replace an existing non-empty output folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--use-wrsamp", action="store_true", help="write records with wfdb.wrsamp (slow)")
    p.set_defaults(func=run)


def parse_conditions(text: str | None) -> dict[str, float] | None:
    """``"AF=0.2,LBBB=0.1"`` -> ``{"AF": 0.2, "LBBB": 0.1}``; None stays None."""
    if text is None:
        return None
    out: dict[str, float] = {}
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise ValueError(f"--conditions: expected NAME=PROBABILITY, got {part!r}")
        name, value = part.split("=", 1)
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--conditions: {value!r} is not a number (in {part!r})") from None
    return out


def write_header(path: Path, name: str, fs: float, d_signal: np.ndarray, sig_names) -> None:
    """A WFDB header for format-16 mV data, as ``wfdb.wrsamp`` writes it."""
    n_t = d_signal.shape[0]
    init = d_signal[0] if n_t else np.zeros(d_signal.shape[1], dtype=np.int64)
    checksum = d_signal.astype(np.int64).sum(axis=0) % 65536
    fs_txt = str(int(fs)) if float(fs).is_integer() else repr(float(fs))
    lines = [f"{name} {len(sig_names)} {fs_txt} {n_t}"]
    for j, sig in enumerate(sig_names):
        lines.append(f"{name}.dat 16 {ADC_GAIN}(0)/mV 16 0 {int(init[j])} {int(checksum[j])} 0 {sig}")
    path.write_text("\n".join(lines) + "\n")


def to_adc(signal_12xt: np.ndarray, where: str) -> np.ndarray:
    """mV (12, T) -> int16 (T, 12) at :data:`ADC_GAIN`; out-of-range values raise."""
    d = np.rint(signal_12xt.T.astype(np.float64) * ADC_GAIN)
    if np.abs(d).max(initial=0) > 32767:
        raise ValueError(f"{where}: signal exceeds +-32.7 mV and does not fit format 16")
    return d.astype("<i2")


def run(args) -> int:
    from ecgfoundry import __version__
    from ecgfoundry.datasets.synthetic import SyntheticConfig, evidence_to_json, iter_chunks
    from ecgfoundry.datasets.synthetic_conditions import CLASS_DESCRIPTIONS, INCOMPATIBLE, SYNTH_CLASSES
    from ecgfoundry.progress import track
    from ecgfoundry.signals.leads import LEADS

    start = time.perf_counter()
    cfg = SyntheticConfig(n=args.n, fs=args.fs, seconds=args.seconds, seed=args.seed,
                          conditions=parse_conditions(args.conditions), noise=args.noise, mains_hz=args.mains)
    out: Path = args.out
    if out.exists() and any(out.iterdir()):
        if not args.overwrite:
            from ecgfoundry.cli.main import UsageError
            raise UsageError(f"output folder {out} is not empty", hint="add --overwrite to replace it")
        shutil.rmtree(out)
    (out / "records").mkdir(parents=True, exist_ok=True)

    frames: list = []
    counts = np.zeros(len(SYNTH_CLASSES))
    written = 0

    with open(out / "evidence.jsonl", "w", encoding="utf-8") as ev_file:
        bar = track(range(cfg.n), "writing records", enabled=not args.no_progress)
        for part in iter_chunks(cfg):
            ids = part.ids
            for i, rid in enumerate(ids):
                next(bar, None)
                d = to_adc(part.signal[i], f"record {rid}")
                if args.use_wrsamp:
                    import wfdb

                    wfdb.wrsamp(rid, fs=cfg.fs, units=["mV"] * 12, sig_name=list(LEADS), d_signal=d,
                                fmt=["16"] * 12, adc_gain=[ADC_GAIN] * 12, baseline=[0] * 12,
                                write_dir=str(out / "records"))
                else:
                    d.tofile(out / "records" / f"{rid}.dat")
                    write_header(out / "records" / f"{rid}.hea", rid, cfg.fs, d, LEADS)
            for line in evidence_to_json(part.evidence, [f"records/{r}" for r in ids]):
                ev_file.write(line + "\n")
            table = part.params.copy()
            table.insert(0, "record", [f"records/{r}" for r in ids])
            table.insert(2, "labels", [";".join(c for c, on in zip(part.classes, row) if on)
                                       for row in part.labels.astype(bool)])
            table.insert(3, "text", part.reports)
            frames.append(table)
            counts += part.labels.sum(axis=0)
            written += len(part)
        for _ in bar:  # finish the bar
            pass

    import pandas as pd

    table = pd.concat(frames, ignore_index=True)
    first = ["record", "record_id", "labels", "text", "patient_id", "fold", "age", "sex"]
    table = table[first + [c for c in table.columns if c not in first]]
    table.to_csv(out / "records.csv", index=False)
    cd_classes = [c for c in ("1AVB", "RBBB", "LBBB", "LAFB") if c in SYNTH_CLASSES]
    (out / "label_sets.json").write_text(json.dumps(
        {"synthetic": {"classes": list(SYNTH_CLASSES),
                       "description": "ecgfoundry synthetic conditions (see synthetic.json)"},
         "CD": {"classes": ["CD"], "mapping": {c: ["CD"] for c in cd_classes},
                "description": "conduction disturbance: " + ", ".join(cd_classes)}}, indent=1))
    (out / "dataset.json").write_text(json.dumps({"name": "synthetic", "default_label_set": "synthetic",
                                                       "label_descriptions": CLASS_DESCRIPTIONS}))
    meta = {
        "generator": "ecgfoundry.datasets.synthetic", "ecgfoundry_version": __version__,
        "config": cfg.to_dict(), "seed": cfg.seed, "n_records": written, "fs": cfg.fs,
        "n_samples": cfg.n_samples, "leads": list(LEADS), "classes": list(SYNTH_CLASSES),
        "class_descriptions": CLASS_DESCRIPTIONS,
        "incompatible": [list(x) for x in INCOMPATIBLE],
        "storage": {"format": "WFDB 16", "adc_gain_per_mv": ADC_GAIN, "baseline": 0, "units": "mV",
                    "resolution_uv": 1.0},
        "evidence": "evidence.jsonl: spans are [start, end) sample indices; role primary|reciprocal",
        "folds": "fold = (index mod 10) + 1: 1-8 train, 9 val, 10 test",
    }
    (out / "synthetic.json").write_text(json.dumps(meta, indent=1))

    elapsed = time.perf_counter() - start
    print(f"wrote {written} synthetic records ({cfg.fs:g} Hz, {cfg.seconds:g} s, seed {cfg.seed}, "
          f"noise {args.noise}) to {out} in {elapsed:.1f} s")
    width = max(len(c) for c in SYNTH_CLASSES)
    for name, k in zip(SYNTH_CLASSES, counts.astype(int)):
        print(f"  {name:<{width}}  {k:>6}  ({100.0 * k / max(written, 1):5.1f} %)")
    print(f"files: {out / 'records.csv'}, {out / 'evidence.jsonl'}, {out / 'synthetic.json'}, "
          f"{out / 'records'}/*.hea|.dat")
    return 0
