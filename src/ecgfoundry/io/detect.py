"""Recognise which dataset format a folder holds and open it with the right reader.

A folder is recognised by its index table first (``ptbxl_database.csv``, ``record_list.csv`` +
``machine_measurements.csv``, ``exams.csv`` + HDF5, ``REFERENCE.csv``, ``records.csv``,
``ludb.csv``), then by its WFDB headers: challenge records (``.mat`` signal files or ``# Dx:``
comments), LUDB-style headers (a ``<diagnoses>:`` comment), else a plain folder of WFDB records.
A folder that is only part of a dataset (``ptbxl/records100``) or that holds datasets below it
(the parent of a dataset, a run folder) gets an error naming the folder to open instead.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
from pathlib import Path

from ecgfoundry.errors import EcgDataError

# format name -> (module, class)
FORMATS: dict[str, tuple[str, str]] = {
    "ptbxl": ("ecgfoundry.io.ptbxl", "PTBXL"),
    "mimic_ecg": ("ecgfoundry.io.mimic_ecg", "MIMICECG"),
    "code15": ("ecgfoundry.io.code15", "CODE15"),
    "cpsc2018": ("ecgfoundry.io.cpsc2018", "CPSC2018"),
    "wfdb_folder": ("ecgfoundry.io.wfdb_folder", "WFDBFolder"),
    "ludb": ("ecgfoundry.io.ludb", "LUDB"),
    "challenge": ("ecgfoundry.io.challenge", "Challenge"),
    "wfdb": ("ecgfoundry.io.wfdb_records", "WFDBRecords"),
}

LOOKED_FOR = ("ptbxl_database.csv, record_list.csv + machine_measurements.csv, exams.csv + *.hdf5, "
              "REFERENCE.csv, records.csv, ludb.csv, or WFDB records (*.hea)")
_SAMPLE_HEADERS = 20


def _table_format(folder: Path) -> str | None:
    """The format a folder's own index table names, or None."""
    try:
        names = {p.name for p in folder.iterdir()}
    except OSError:
        return None
    if "store.json" in names:  # an ecgfoundry cache (it holds a records.csv of its own)
        return "cache"
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
    if "ludb.csv" in names:
        return "ludb"
    return None


def _header_format(headers: list[Path]) -> str:
    """challenge / ludb / wfdb from a sample of headers."""
    from ecgfoundry.io.wfdb_common import header_comments

    for hea in headers:
        try:
            text = hea.read_text(errors="replace")
            comments = header_comments(hea)
        except (OSError, EcgDataError):
            continue
        sig_files = [ln.split()[0] for ln in text.splitlines()[1:] if ln.strip() and not ln.startswith("#")]
        if any(f.lower().endswith(".mat") for f in sig_files) or \
                any(c.lower().startswith("dx:") for c in comments):
            return "challenge"
        if any(c.replace(" ", "").lower().startswith("<diagnoses>:") for c in comments):
            return "ludb"
    return "wfdb"


def _datasets_below(root: Path, depth: int = 2) -> list[tuple[Path, str, bool]]:
    """Sub-folders (down to ``depth`` levels) that hold a recognisable dataset, with whether an
    index table (rather than headers alone) makes it one."""
    found: list[tuple[Path, str, bool]] = []
    level = [root]
    for _ in range(depth):
        nxt = []
        for folder in level:
            try:
                subs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
            except OSError:
                continue
            for sub in subs:
                fmt, by_table = _table_format(sub), True
                if fmt is None and any(sub.glob("*.hea")):
                    fmt, by_table = _header_format(list(itertools.islice(sub.glob("*.hea"), _SAMPLE_HEADERS))), False
                if fmt is not None:
                    found.append((sub, fmt, by_table))
                else:
                    nxt.append(sub)
        level = nxt
    return found


def _dataset_above(root: Path, levels: int = 3) -> tuple[Path, str] | None:
    """The nearest parent folder (up to ``levels`` up) whose index table makes it a dataset."""
    for parent in list(root.resolve().parents)[:levels]:
        fmt = _table_format(parent)
        if fmt is not None:
            return parent, fmt
    return None


def detect_format(path: str | Path) -> str:
    """Name the format of a dataset folder from the files it holds.

    Raises
    ------
    EcgDataError
        No such folder, a file, an empty folder, a folder inside a dataset (names the dataset's
        folder), a folder holding datasets below it (names them), or nothing recognisable.
    """
    root = Path(path)
    if not root.exists():
        raise EcgDataError(root, None, "no such file or folder")
    if root.is_file():
        raise EcgDataError(root, None, "expected a dataset folder, got a file")
    fmt = _table_format(root)
    if fmt == "cache":
        raise EcgDataError(root, None, "a dataset cache (store.json), not a dataset folder: open it with "
                           "ecgfoundry.io.store.ArrayStore (data inspect reads it as it is)")
    if fmt is not None:
        return fmt
    if not any(root.iterdir()):
        raise EcgDataError(root, None, "the folder is empty")
    above = _dataset_above(root)
    if above is not None:
        parent, pfmt = above
        raise EcgDataError(root, None, f"this folder is part of the {pfmt} dataset at {parent}; open that "
                           f"folder instead (ecgfoundry data inspect {parent}), or read these records "
                           "as a plain WFDB folder with --format wfdb")
    direct = list(itertools.islice(root.glob("*.hea"), _SAMPLE_HEADERS))
    if direct:  # records in the folder itself: a records folder, whatever lies below
        return _header_format(direct)
    below = _datasets_below(root)
    if any(by_table for _, _, by_table in below):
        listed = "; ".join(f"{p} ({f})" for p, f, _ in below[:8])
        first = next(p for p, _, by_table in below if by_table)
        raise EcgDataError(root, None, f"not a dataset folder itself, but it holds "
                           f"{'a dataset' if len(below) == 1 else f'{len(below)} datasets'} below it: "
                           f"{listed}; open {'it' if len(below) == 1 else 'one of them'} "
                           f"(e.g. ecgfoundry data inspect {first})")
    if len({f for _, f, _ in below}) > 1:  # e.g. the parent of a challenge folder and a LUDB folder
        listed = "; ".join(f"{p} ({f})" for p, f, _ in below[:8])
        raise EcgDataError(root, None, f"not a dataset folder itself, but it holds records of different "
                           f"datasets below it: {listed}; open one of them "
                           f"(e.g. ecgfoundry data inspect {below[0][0]})")
    headers = list(itertools.islice(root.rglob("*.hea"), _SAMPLE_HEADERS))
    if headers:
        return _header_format(headers)
    raise EcgDataError(root, None, f"not a dataset folder ecgfoundry recognises (looked for {LOOKED_FOR})")


def open_dataset(path: str | Path, format: str | None = None, **kwargs):
    """Open a dataset folder with the reader for its format (detected when not given).

    Parameters
    ----------
    path : str or Path
        Dataset folder.
    format : str, optional
        One of ``ptbxl, challenge, cpsc2018, code15, mimic_ecg, wfdb_folder, ludb, wfdb``.
        Given a ``table`` keyword (a custom index CSV), the default is ``wfdb_folder``.
    **kwargs
        Passed to the reader (e.g. ``fs=500`` for PTB-XL, ``errors="raise"`` to stop at the first
        bad index row).
    """
    fmt = format or ("wfdb_folder" if kwargs.get("table") else detect_format(path))
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
