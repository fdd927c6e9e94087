"""Recognise which dataset format a folder holds and open it with the right reader."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

from ecgfoundry.errors import EcgDataError

# format name -> (module, class, test on the folder). Order matters: most specific first.
FORMATS: dict[str, tuple[str, str]] = {
    "ptbxl": ("ecgfoundry.io.ptbxl", "PTBXL"),
    "mimic_ecg": ("ecgfoundry.io.mimic_ecg", "MIMICECG"),
    "code15": ("ecgfoundry.io.code15", "CODE15"),
    "cpsc2018": ("ecgfoundry.io.cpsc2018", "CPSC2018"),
    "wfdb_folder": ("ecgfoundry.io.wfdb_folder", "WFDBFolder"),
    "challenge": ("ecgfoundry.io.challenge", "Challenge"),
}


def detect_format(path: str | Path) -> str:
    """Name the format of a dataset folder from the files it holds."""
    root = Path(path)
    if not root.exists():
        raise EcgDataError(root, None, "no such file or folder")
    if root.is_file():
        raise EcgDataError(root, None, "expected a dataset folder, got a file")
    names = {p.name for p in root.iterdir()}
    if "ptbxl_database.csv" in names:
        return "ptbxl"
    if "record_list.csv" in names and "machine_measurements.csv" in names:
        return "mimic_ecg"
    if "exams.csv" in names and any(n.endswith((".hdf5", ".h5")) for n in names):
        return "code15"
    if "REFERENCE.csv" in names:
        return "cpsc2018"
    if "records.csv" in names:
        return "wfdb_folder"
    if next(root.rglob("*.hea"), None) is not None:
        return "challenge"
    if not names:
        raise EcgDataError(root, None, "the folder is empty")
    raise EcgDataError(root, None, "not a dataset folder ecgfoundry recognises (looked for "
                       "ptbxl_database.csv, record_list.csv + machine_measurements.csv, exams.csv + "
                       "*.hdf5, REFERENCE.csv, records.csv, or *.hea files)")


def open_dataset(path: str | Path, format: str | None = None, **kwargs):
    """Open a dataset folder with the reader for its format (detected when not given).

    Parameters
    ----------
    path : str or Path
        Dataset folder.
    format : str, optional
        One of ``ptbxl, challenge, cpsc2018, code15, mimic_ecg, wfdb_folder``.
    **kwargs
        Passed to the reader (e.g. ``fs=500`` for PTB-XL).
    """
    fmt = format or detect_format(path)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    module, cls = FORMATS[fmt]
    reader = getattr(importlib.import_module(module), cls)
    accepted = inspect.signature(reader).parameters
    unknown = sorted(k for k in kwargs if k not in accepted)
    if unknown:
        known = ", ".join(k for k in accepted if k not in ("self", "root", "path"))
        raise ValueError(f"{path}: a {fmt} dataset has no option {', '.join(map(repr, unknown))} "
                         f"(its options: {known or 'none'})")
    return reader(path, **kwargs)
