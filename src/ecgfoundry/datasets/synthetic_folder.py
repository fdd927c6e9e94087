"""Write the synthetic dataset as a PTB-XL-like WFDB folder (what ``ecgfoundry synth`` writes and the
benchmark's built-in synthetic dataset reads).

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
directly, because ``wrsamp`` costs about 10 ms per record (``use_wrsamp=True`` switches to it).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgfoundry.datasets.synthetic import SyntheticConfig

__all__ = ["ADC_GAIN", "SyntheticFolder", "write_header", "to_adc", "write_synthetic_folder"]

ADC_GAIN = 1000.0  # ADC units per mV: 1 uV resolution


@dataclass(frozen=True)
class SyntheticFolder:
    """What :func:`write_synthetic_folder` wrote: the folder, its record count, the positives per
    class (in :data:`~ecgfoundry.datasets.synthetic_conditions.SYNTH_CLASSES` order) and the time taken."""

    path: Path
    n_records: int
    class_counts: dict[str, int]
    elapsed_s: float


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


def write_synthetic_folder(out: str | Path, cfg: SyntheticConfig, overwrite: bool = False, progress: bool = True,
                           use_wrsamp: bool = False) -> SyntheticFolder:
    """Generate ``cfg.n`` synthetic records and write them under ``out`` (layout in the module docstring).

    Raises
    ------
    FileExistsError
        ``out`` exists, is not empty and ``overwrite`` is False.
    """
    from ecgfoundry import __version__
    from ecgfoundry.datasets.synthetic import evidence_to_json, iter_chunks
    from ecgfoundry.datasets.synthetic_conditions import CLASS_DESCRIPTIONS, INCOMPATIBLE, SYNTH_CLASSES
    from ecgfoundry.progress import track
    from ecgfoundry.signals.leads import LEADS

    start = time.perf_counter()
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f"output folder {out} is not empty")
        shutil.rmtree(out)
    (out / "records").mkdir(parents=True, exist_ok=True)

    frames: list = []
    counts = np.zeros(len(SYNTH_CLASSES))
    written = 0

    with open(out / "evidence.jsonl", "w", encoding="utf-8") as ev_file:
        bar = track(range(cfg.n), "writing records", enabled=progress)
        for part in iter_chunks(cfg):
            ids = part.ids
            for i, rid in enumerate(ids):
                next(bar, None)
                d = to_adc(part.signal[i], f"record {rid}")
                if use_wrsamp:
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
    return SyntheticFolder(path=out, n_records=written,
                           class_counts={c: int(k) for c, k in zip(SYNTH_CLASSES, counts)},
                           elapsed_s=time.perf_counter() - start)
