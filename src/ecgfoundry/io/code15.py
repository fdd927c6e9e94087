"""CODE-15%: 345,779 12-lead ECGs from 233,770 patients of the Telehealth Network of Minas Gerais.

Ribeiro et al., "CODE-15%: a large scale annotated dataset of 12-lead ECGs", Zenodo,
doi:10.5281/zenodo.4916206 (2021); Ribeiro et al., "Automatic diagnosis of the 12-lead ECG using a
deep neural network", Nature Communications 11:1760 (2020).

Layout: ``exams.csv`` (``exam_id, age, is_male, nn_predicted_age, 1dAVb, RBBB, LBBB, SB, ST, AF,
patient_id, death, timey, normal_ecg, trace_file``) and HDF5 files ``exams_part{i}.hdf5``, each with
``tracings`` ``(N, 4096, 12)`` and ``exam_id`` ``(N,)``. 400 Hz; leads DI, DII, DIII, AVR, AVL, AVF,
V1-V6. Recordings of 10 s (4000 samples) or 7 s (2800) are zero-padded symmetrically to 4096.

Units: the tracings are read as **millivolts**, unchanged. Evidence: the official PhysioNet
Challenge 2025 converter ``prepare_code15_data.py`` (physionetchallenges/python-example-2025)
writes the HDF5 values to WFDB with ``units = "mV"`` and gain 1000 (1 uV resolution), citing the
Zenodo record; the authors' README (antonior92/automatic-ecg-diagnosis) says a signal "in V should
be multiplied by 1000" before it is fed to their model, i.e. the model's input, which is this data,
is in mV (the same sentence also says "scale 1e-4V", which contradicts the factor it gives; we
follow the factor, which agrees with the converter and with the amplitudes of the data: QRS
complexes of about 1 unit).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecgfoundry.batch import EcgRecord
from ecgfoundry.errors import EcgDataError
from ecgfoundry.io.base import HeaderInfo, LabelSet, RecordSource, parse_age, place_leads
from ecgfoundry.io.tables import clean_str, is_blank, parse_integer, patient_splits, read_table

FS = 400.0
"""Sampling rate of CODE-15% in Hz."""

LEAD_NAMES: tuple[str, ...] = ("DI", "DII", "DIII", "AVR", "AVL", "AVF",
                               "V1", "V2", "V3", "V4", "V5", "V6")
"""Lead order of ``tracings`` (last axis)."""

UNIT_TO_MV = 1.0
"""Factor from the stored values to millivolts (see the module docstring for the evidence)."""

CLASSES: tuple[str, ...] = ("1dAVb", "RBBB", "LBBB", "SB", "ST", "AF")
"""The six abnormalities annotated in ``exams.csv``, in the column order of the release."""


def build_label_sets() -> dict[str, LabelSet]:
    """``code15`` (the 6 classes), ``AF`` and ``CD`` (1dAVb, RBBB or LBBB), both binary."""
    return {
        "code15": LabelSet("code15", CLASSES, {c: (c,) for c in CLASSES},
                           "the 6 CODE-15% abnormalities (exams.csv columns)"),
        "AF": LabelSet("AF", ("AF",), {"AF": ("AF",)}, "atrial fibrillation"),
        "CD": LabelSet("CD", ("CD",), {c: ("CD",) for c in ("1dAVb", "RBBB", "LBBB")},
                       "conduction disturbance: 1dAVb, RBBB or LBBB"),
    }


def padding_mask(tracing: np.ndarray) -> np.ndarray:
    """Bool ``(T,)``: True for the leading and trailing samples where every lead is exactly zero.

    >>> x = np.zeros((6, 2)); x[2:4] = 1.0
    >>> padding_mask(x).tolist()
    [True, True, False, False, True, True]
    """
    zero = np.all(tracing == 0, axis=1)
    n = len(zero)
    if zero.all():
        return zero
    first = int(np.argmin(zero))
    last = n - int(np.argmin(zero[::-1]))
    pad = np.zeros(n, dtype=bool)
    pad[:first] = True
    pad[last:] = True
    return pad


_TRUE = {"true", "1", "1.0", "yes", "t"}
_FALSE = {"false", "0", "0.0", "no", "f"}


def _as_bool(value: Any, path: Path, line: int, column: str) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    text = "" if is_blank(value) else str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise EcgDataError(path, f"line {line}: {column}", f"expected True or False, got {value!r}")


def read_code15_exam(hdf5_path: str | Path, exam_id: int) -> EcgRecord:
    """Read one exam straight from a CODE-15% HDF5 file by its ``exam_id``, without ``exams.csv``.

    The record has no labels, age or sex (those live in ``exams.csv``; open the folder with
    :class:`CODE15` and use :meth:`CODE15.read_exam` to have them).

    Raises
    ------
    EcgDataError
        Missing or corrupt file, no ``tracings`` / ``exam_id`` dataset, or no such exam in it.
    """
    import h5py

    path = Path(hdf5_path)
    if not path.exists():
        raise EcgDataError(path, None, "missing HDF5 file")
    try:
        with h5py.File(path, "r") as f:
            for name in ("tracings", "exam_id"):
                if name not in f:
                    raise EcgDataError(path, name, "dataset missing from the HDF5 file")
            ids = np.asarray(f["exam_id"][()]).ravel()
            hits = np.flatnonzero(ids == int(exam_id))
            if len(hits) == 0:
                raise EcgDataError(path, "exam_id", f"exam {exam_id} is not in this file")
            tr = f["tracings"]
            if tr.ndim != 3 or tr.shape[2] != len(LEAD_NAMES) or tr.shape[0] != len(ids):
                raise EcgDataError(path, "tracings", f"expected shape ({len(ids)}, T, 12), got {tr.shape}")
            tracing = np.asarray(tr[int(hits[0])], dtype=np.float64)
    except EcgDataError:
        raise
    except Exception as exc:  # h5py raises OSError / KeyError / RuntimeError on damaged files
        raise EcgDataError(path, None, f"corrupt HDF5 file ({type(exc).__name__}: {exc})") from None
    return _exam_record(tracing, int(exam_id), str(path), "code15", None, (), {})


def _exam_record(tracing: np.ndarray, exam_id: int, path: str, dataset: str, patient_id,
                 codes: tuple[str, ...], meta: dict) -> EcgRecord:
    tracing = tracing * UNIT_TO_MV
    signal, observed = place_leads(tracing, LEAD_NAMES, path, field="tracings")
    pad = padding_mask(tracing)
    observed[:, pad] = False
    meta = dict(meta, path=path, exam_id=exam_id, n_padding=int(pad.sum()),
                n_leads=int(observed.any(axis=1).sum()))
    return EcgRecord(signal, observed, FS, str(exam_id), dataset, patient_id=patient_id,
                     labels=codes, text=None, meta=meta)


class CODE15(RecordSource):
    """CODE-15% from ``exams.csv`` and its ``exams_part*.hdf5`` files.

    Parameters
    ----------
    root : str or Path
        Folder with ``exams.csv``; the HDF5 files named in ``trace_file`` lie in it (or below it).
    seed : int
        Seed of the hashed patient-wise train / val / test split (the release has no folds).
    fractions : (float, float, float)
        Train / val / test fractions.

    Notes
    -----
    Table columns: ``record_id`` (``exam_id``), ``patient_id``, ``split``, ``codes`` (names of the
    positive abnormality columns), ``text`` (None), ``path`` (the HDF5 file), ``age``, ``sex``,
    ``nn_predicted_age``, ``normal_ecg``, ``death``, ``timey``, ``trace_file``.

    Row faults of ``exams.csv`` (an ``exam_id`` that is not an integer or is listed twice, a
    label or flag column that is not a boolean, a ``timey`` that is not a number) leave the row
    out and list it in :attr:`row_problems` with the line, the column and the reason;
    ``errors="raise"`` stops at the first one. An exam with none of the six abnormalities is a
    legitimate record (no abnormality), not an empty label set.

    Exams whose HDF5 file is absent (a partial download) are left out of the table and counted in
    ``notes``; an exam whose file is present but lacks its ``exam_id`` stays in the table and fails
    when read, naming the file and the exam. HDF5 files are opened once and kept open
    (:meth:`close` releases them; a pickled copy reopens them on first read).

    The zero padding of 7 s recordings (leading and trailing samples where all leads are exactly
    zero) is unobserved in ``observed``; the signal keeps its 4096 samples.
    """

    name = "code15"
    default_label_set = "code15"

    def __init__(self, root: str | Path, seed: int = 0,
                 fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), errors: str = "skip"):
        super().__init__(root, errors=errors)
        self.seed = seed
        self.notes: list[str] = []
        self.exams_csv = self.root / "exams.csv"
        self._handles: dict[str, Any] = {}
        self._index: dict[str, dict[int, int]] = {}
        self._file_errors: dict[str, EcgDataError] = {}
        df = read_table(self.exams_csv, required=("exam_id", "trace_file") + CLASSES)
        self.label_sets = build_label_sets()

        on_disk = {p.name: p for p in sorted(self.root.rglob("*.hdf5"))}
        on_disk.update({p.name: p for p in sorted(self.root.rglob("*.h5")) if p.name not in on_disk})
        named = {Path(str(t).strip()).name for t in df["trace_file"] if not is_blank(t)}
        blank_cells = bool(df["trace_file"].map(is_blank).any())
        for p in on_disk.values():
            if p.name in named or blank_cells:  # other HDF5 files below root are not ours
                self._index_file(p)

        where: dict[int, str] = {}  # exam_id -> indexed file, for blank trace_file cells
        for key, ids in self._index.items():
            for e in ids:
                where.setdefault(e, key)

        has_pid = "patient_id" in df.columns
        if not has_pid:
            self.notes.append("exams.csv has no patient_id column: splits are by exam, not by patient")
        rows: list[dict[str, Any]] = []
        absent_files: dict[str, int] = {}
        unresolved: list[int] = []
        for i, row in enumerate(df.to_dict("records")):
            line = i + 2
            try:
                parsed = self._parse_row(row, line, has_pid)
            except EcgDataError as exc:
                self._row_fault(clean_str(row.get("exam_id")) or f"line {line}", exc)
                continue
            exam_id, trace_file = parsed["exam_id"], parsed["trace_file"]
            if trace_file is None:
                if exam_id not in where:
                    unresolved.append(exam_id)
                    continue
                parsed["path"] = where[exam_id]
            elif Path(trace_file).name in on_disk:
                parsed["path"] = str(on_disk[Path(trace_file).name])
            else:
                absent_files[trace_file] = absent_files.get(trace_file, 0) + 1
                continue
            rows.append(parsed)
        lines: dict[int, list[int]] = {}
        for r in rows:
            lines.setdefault(r["exam_id"], []).append(r["line"])
        dup = {k: v for k, v in lines.items() if len(v) > 1}
        for exam_id, where_lines in dup.items():  # which row is right cannot be told: all left out
            self._row_fault(exam_id, EcgDataError(
                self.exams_csv, f"lines {', '.join(map(str, where_lines))}: exam_id",
                f"exam {exam_id} is listed {len(where_lines)} times; all its rows are left out"))
        rows = [r for r in rows if r["exam_id"] not in dup]
        seen = set()  # every exam the CSV names, usable or not (for "exams without a row")
        for value in df["exam_id"]:
            try:
                seen.add(int(float(value)))
            except (TypeError, ValueError):
                pass
        if absent_files:
            n = sum(absent_files.values())
            files = ", ".join(f"{f} ({k})" for f, k in sorted(absent_files.items()))
            self.notes.append(f"{n} exam(s) of exams.csv are left out because their HDF5 file is not "
                              f"under {self.root} (partial download?): {files}")
        if unresolved:
            self.notes.append(f"{len(unresolved)} exam(s) have a blank trace_file and are in none of the "
                              f"HDF5 files present; left out: {', '.join(map(str, unresolved[:10]))}")
        for key, ids in self._index.items():
            missing_in_csv = sorted(set(ids) - seen)
            if missing_in_csv:
                self.notes.append(f"{len(missing_in_csv)} exam(s) in {Path(key).name} have no row in "
                                  f"exams.csv and are left out: {', '.join(map(str, missing_in_csv[:10]))}")
        for key, err in self._file_errors.items():
            self.notes.append(f"{Path(key).name} is unreadable; its exams fail when read: {err.message}")
        table_rows = [r for r in rows if r["path"] not in self._index or r["exam_id"] in self._index[r["path"]]]
        missing_in_h5 = len(rows) - len(table_rows)
        if missing_in_h5:
            self.notes.append(f"{missing_in_h5} exam(s) of exams.csv are missing from their HDF5 file; "
                              "they stay in the table and fail when read")
        if not rows:
            if self.row_problems and not absent_files and not unresolved:
                raise EcgDataError(self.exams_csv, None, "no usable row: " + "; ".join(
                    p.message for p in self.row_problems[:5]))
            raise EcgDataError(self.exams_csv, None, "no exam has its HDF5 file present under "
                               f"{self.root}; " + " ".join(self.notes))
        table = pd.DataFrame(rows).drop(columns="line")
        table.insert(2, "split", patient_splits(list(table["patient_id"]), list(table["record_id"]),
                                                seed=seed, fractions=fractions))
        self.table = table

    def _parse_row(self, row: dict, line: int, has_pid: bool) -> dict[str, Any]:
        """One row of ``exams.csv``, checked; raises naming the line and the column."""
        exam_id = self._exam_id(row["exam_id"], line)
        codes = tuple(c for c in CLASSES if _as_bool(row[c], self.exams_csv, line, c))
        is_male = row.get("is_male")
        return {
            "record_id": str(exam_id),
            "patient_id": clean_str(row["patient_id"]) if has_pid else None,
            "codes": codes,
            "text": None,
            "path": None,
            "age": parse_age(row.get("age")),
            "sex": None if is_blank(is_male) else
            ("M" if _as_bool(is_male, self.exams_csv, line, "is_male") else "F"),
            "nn_predicted_age": parse_age(row.get("nn_predicted_age")),
            "normal_ecg": None if is_blank(row.get("normal_ecg")) else
            _as_bool(row.get("normal_ecg"), self.exams_csv, line, "normal_ecg"),
            "death": None if is_blank(row.get("death")) else
            _as_bool(row.get("death"), self.exams_csv, line, "death"),
            "timey": self._number(row.get("timey"), line, "timey"),
            "trace_file": clean_str(row["trace_file"]),
            "exam_id": exam_id,
            "line": line,
        }

    # --- files ---------------------------------------------------------------------------
    def _exam_id(self, value: Any, line: int) -> int:
        return parse_integer(value, self.exams_csv, f"line {line}: exam_id")

    def _number(self, value: Any, line: int, column: str) -> float:
        if is_blank(value):
            return float("nan")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise EcgDataError(self.exams_csv, f"line {line}: {column}", f"not a number: {value!r}") from None

    def _open(self, path: str):
        """The open HDF5 file (opened once, kept)."""
        if path in self._file_errors:
            raise self._file_errors[path]
        handle = self._handles.get(path)
        if handle is None:
            import h5py

            try:
                handle = h5py.File(path, "r")
            except FileNotFoundError:
                raise EcgDataError(path, None, "missing HDF5 file") from None
            except Exception as exc:
                raise EcgDataError(path, None, f"not a readable HDF5 file ({type(exc).__name__}: {exc})") from None
            self._handles[path] = handle
        return handle

    def _index_file(self, path: Path) -> None:
        key = str(path)
        try:
            f = self._open(key)
            for name in ("tracings", "exam_id"):
                if name not in f:
                    raise EcgDataError(path, name, "dataset missing from the HDF5 file")
            tr, ids = f["tracings"], f["exam_id"]
            if tr.ndim != 3 or tr.shape[2] != len(LEAD_NAMES):
                raise EcgDataError(path, "tracings", f"expected shape (N, T, 12), got {tr.shape}")
            ids = np.asarray(ids[()]).ravel()
            if len(ids) != tr.shape[0]:
                raise EcgDataError(path, "exam_id", f"{len(ids)} exam ids for {tr.shape[0]} tracings")
            self._index[key] = {int(e): j for j, e in enumerate(ids)}
        except Exception as exc:  # h5py raises KeyError / RuntimeError / OSError on corrupt files
            if not isinstance(exc, EcgDataError):
                exc = EcgDataError(path, None, f"corrupt HDF5 file ({type(exc).__name__}: {exc})")
            self._file_errors[key] = exc
            handle = self._handles.pop(key, None)
            if handle is not None:
                handle.close()

    def close(self) -> None:
        """Close the open HDF5 files (reading again reopens them)."""
        for handle in self._handles.values():
            try:
                handle.close()
            except Exception:  # pragma: no cover - already closed
                pass
        self._handles.clear()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_handles"] = {}  # h5py handles do not pickle (DataLoader workers reopen them)
        return state

    def _locate(self, row: pd.Series) -> tuple[Any, int]:
        path = str(row["path"])
        f = self._open(path)
        exam_id = int(row["exam_id"])
        j = self._index.get(path, {}).get(exam_id)
        if j is None:
            raise EcgDataError(path, "exam_id", f"exam {exam_id} (listed in exams.csv) is not in this file")
        return f, j

    # --- reading -------------------------------------------------------------------------
    def _read_row(self, row: pd.Series) -> EcgRecord:
        f, j = self._locate(row)
        path = str(row["path"])
        try:
            tracing = np.asarray(f["tracings"][j], dtype=np.float64)
        except Exception as exc:
            raise EcgDataError(path, "tracings", f"exam {row['exam_id']}: unreadable "
                               f"({type(exc).__name__}: {exc})") from None
        meta = {k: row[k] for k in ("age", "sex", "nn_predicted_age", "normal_ecg", "death", "timey")}
        return _exam_record(tracing, int(row["exam_id"]), path, self.name, row["patient_id"],
                            tuple(row["codes"]), meta)

    def read_exam(self, exam_id: int | str) -> EcgRecord:
        """Read one exam by its ``exam_id`` (``12345`` or ``"12345"``), not by row position.

        Raises
        ------
        KeyError
            No usable row of ``exams.csv`` has that exam (the message says whether a row was
            skipped as faulty).
        EcgDataError
            The exam's file is unreadable or does not hold it.
        """
        key = str(self._exam_id(exam_id, 0)) if not isinstance(exam_id, str) else exam_id.strip()
        hits = np.flatnonzero(self.table["record_id"].to_numpy() == key)
        if len(hits) == 0:
            skipped = [p.message for p in self.row_problems if p.record_id == key]
            why = f"; its row was skipped: {skipped[0]}" if skipped else ""
            raise KeyError(f"{self.name}: no exam {key} in {self.exams_csv}{why}")
        return self._read_checked(self.table.iloc[int(hits[0])])

    def header_info(self, index: int) -> HeaderInfo:
        """400 Hz, T and the 12 leads from the HDF5 dataset shape, without reading samples."""
        fs, n = self.header(index)
        return HeaderInfo(fs, n)

    def header(self, index: int) -> tuple[float, int]:
        """``(400.0, T)`` from the HDF5 dataset shape, without reading samples."""
        row = self.table.iloc[int(index)]
        f, _ = self._locate(row)
        try:
            return FS, int(f["tracings"].shape[1])
        except Exception as exc:
            raise EcgDataError(row["path"], "tracings", f"unreadable ({type(exc).__name__}: {exc})") from None
