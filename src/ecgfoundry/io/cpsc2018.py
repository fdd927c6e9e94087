"""The China Physiological Signal Challenge 2018 (CPSC 2018) in its original release.

Liu et al., "An Open Access Database for Evaluating the Algorithms of Electrocardiogram Rhythm and
Morphology Abnormality Detection", Journal of Medical Imaging and Health Informatics 8(7), 2018.

Layout: one MATLAB file per recording (``A0001.mat`` ..., anywhere below the folder, e.g. in
``TrainingSet1/``) holding a struct ``ECG`` with fields ``sex`` (``"Male"`` / ``"Female"``),
``age`` (years) and ``data`` (12 x T, millivolts, leads I, II, III, aVR, aVL, aVF, V1-V6), sampled
at 500 Hz; and ``REFERENCE.csv`` (``Recording, First_label, Second_label, Third_label``) with one to
three integer labels per recording:

== ==== =========================================
1  NORM normal
2  AF   atrial fibrillation
3  IAVB first-degree atrioventricular block
4  LBBB left bundle branch block
5  RBBB right bundle branch block
6  PAC  premature atrial contraction
7  PVC  premature ventricular contraction
8  STD  ST-segment depression
9  STE  ST-segment elevation
== ==== =========================================
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecgfoundry.batch import EcgRecord
from ecgfoundry.errors import EcgDataError
from ecgfoundry.io.base import LabelSet, RecordSource, parse_age, parse_sex, place_leads
from ecgfoundry.io.tables import clean_str, patient_splits, read_table
from ecgfoundry.signals.leads import LEADS

FS = 500.0
"""CPSC 2018 sampling rate in Hz (fixed by the release; the files carry no rate)."""

CLASSES: tuple[str, ...] = ("NORM", "AF", "IAVB", "LBBB", "RBBB", "PAC", "PVC", "STD", "STE")
"""Class names of the integer labels 1..9, in that order."""

LABEL_NAMES: dict[int, str] = {i + 1: c for i, c in enumerate(CLASSES)}
LABEL_COLUMNS = ("First_label", "Second_label", "Third_label")


def build_label_sets() -> dict[str, LabelSet]:
    """``cpsc9`` (the 9 classes), ``AF`` (binary) and ``CD`` (binary: IAVB, LBBB or RBBB)."""
    return {
        "cpsc9": LabelSet("cpsc9", CLASSES, {c: (c,) for c in CLASSES}, "the 9 CPSC 2018 classes"),
        "AF": LabelSet("AF", ("AF",), {"AF": ("AF",)}, "atrial fibrillation (label 2)"),
        "CD": LabelSet("CD", ("CD",), {c: ("CD",) for c in ("IAVB", "LBBB", "RBBB")},
                       "conduction disturbance: I-AVB, LBBB or RBBB (labels 3, 4, 5)"),
    }


def _unwrap(value: Any) -> Any:
    """Strip the 1x1 object / cell wrappers scipy.io.loadmat puts around struct fields."""
    while isinstance(value, np.ndarray) and value.dtype == object and value.size == 1:
        value = value.flat[0]
    return value


def _field(struct: Any, name: str) -> Any:
    """Field ``name`` of a MATLAB struct as any ``loadmat`` option set returns it, else KeyError."""
    struct = _unwrap(struct)
    if isinstance(struct, dict):
        return struct[name]
    if isinstance(struct, np.ndarray) and struct.dtype.names:
        if struct.size != 1:
            raise KeyError(name)
        struct = struct.flat[0]
    if isinstance(struct, np.void) and struct.dtype.names:
        if name not in struct.dtype.names:
            raise KeyError(name)
        return struct[name]
    if hasattr(struct, "_fieldnames"):  # scipy.io.matlab.mat_struct (struct_as_record=False)
        if name not in struct._fieldnames:
            raise KeyError(name)
        return getattr(struct, name)
    raise KeyError(name)


def _scalar_text(value: Any) -> str | None:
    value = _unwrap(value)
    if isinstance(value, np.ndarray):
        if value.size == 0:
            return None
        if value.dtype.kind in "US":
            return "".join(str(v) for v in value.ravel()).strip() or None
        if value.dtype.kind in "ui" and value.ndim <= 2:  # MATLAB v7.3 char arrays are uint16 codes
            return "".join(chr(int(c)) for c in value.ravel()).strip() or None
        value = value.flat[0]
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return None if value is None else str(value).strip() or None


def _scalar_number(value: Any) -> Any:
    value = _unwrap(value)
    if isinstance(value, np.ndarray):
        return value.flat[0] if value.size else None
    return value


def parse_ecg_struct(ecg: Any, path: str | Path, transposed: bool = False
                     ) -> tuple[np.ndarray, str | None, float]:
    """Signal ``(T, 12)`` in mV, sex and age from a CPSC ``ECG`` struct.

    Parameters
    ----------
    ecg : struct as returned by :func:`scipy.io.loadmat` (any of ``struct_as_record``,
        ``squeeze_me``, ``simplify_cells``) or a dict of fields
    path : str or Path
        The ``.mat`` file, for errors.
    transposed : bool
        True for MATLAB v7.3 (HDF5) files, where ``data`` arrives as ``(T, 12)``.
    """
    try:
        data = _field(ecg, "data")
    except KeyError:
        raise EcgDataError(path, "ECG.data", "the ECG struct has no 'data' field") from None
    data = _unwrap(data)
    try:
        data = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        raise EcgDataError(path, "ECG.data", "not a numeric matrix") from None
    if transposed:
        data = data.T
    if data.ndim != 2 or data.shape[0] != len(LEADS) or data.shape[1] == 0:
        raise EcgDataError(path, "ECG.data", f"expected a 12 x T matrix (leads x samples), got shape "
                           f"{data.shape}")
    sex = age = None
    try:
        sex = parse_sex(_scalar_text(_field(ecg, "sex")))
    except KeyError:
        pass
    try:
        age = _scalar_number(_field(ecg, "age"))
    except KeyError:
        pass
    return data.T, sex, parse_age(age)


def load_cpsc_mat(path: str | Path) -> tuple[np.ndarray, str | None, float]:
    """Read one CPSC 2018 ``.mat`` file: ``(data (T, 12) mV, sex, age)``.

    Raises
    ------
    EcgDataError
        Missing, corrupt or truncated file; no ``ECG`` struct; a ``data`` field that is not 12 x T.
    """
    import scipy.io

    path = Path(path)
    if not path.exists():
        raise EcgDataError(path, None, "missing signal file")
    try:
        mat = scipy.io.loadmat(str(path))
    except NotImplementedError:  # MATLAB v7.3: an HDF5 file
        return _load_v73(path)
    except Exception as exc:  # scipy raises ValueError, OSError, IndexError, TypeError ... on bad files
        raise EcgDataError(path, None, f"corrupt or truncated .mat file ({type(exc).__name__}: {exc})") from None
    if "ECG" in mat:
        return parse_ecg_struct(mat["ECG"], path)
    if "data" in mat:  # fields saved as top-level variables
        return parse_ecg_struct({k: v for k, v in mat.items() if not k.startswith("__")}, path)
    names = [k for k in mat if not k.startswith("__")]
    raise EcgDataError(path, "ECG", f"no struct 'ECG' in the file (variables: {', '.join(names) or 'none'})")


def _load_v73(path: Path) -> tuple[np.ndarray, str | None, float]:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if "ECG" not in f:
                raise EcgDataError(path, "ECG", "no struct 'ECG' in the file")
            group = f["ECG"]
            fields = {k: group[k][()] for k in group.keys() if isinstance(group[k], h5py.Dataset)}
    except EcgDataError:
        raise
    except Exception as exc:
        raise EcgDataError(path, None, f"corrupt or truncated .mat file ({type(exc).__name__}: {exc})") from None
    return parse_ecg_struct(fields, path, transposed=True)


class CPSC2018(RecordSource):
    """CPSC 2018 from its original release (``REFERENCE.csv`` + one ``.mat`` per recording).

    Parameters
    ----------
    root : str or Path
        The folder holding ``REFERENCE.csv``; the ``.mat`` files may lie in it or in sub-folders.
    seed : int
        Seed of the hashed train / val / test split (the release has no folds and no patient ids,
        so each recording is its own group).
    fractions : (float, float, float)
        Train / val / test fractions.

    Notes
    -----
    Table columns: ``record_id``, ``patient_id`` (None), ``split``, ``codes`` (class names of the
    record's labels, first label first), ``text`` (None), ``path`` (the ``.mat``, or
    ``REFERENCE.csv`` for a row whose file is absent), ``ref_row`` (line in ``REFERENCE.csv``).
    Age and sex live inside each ``.mat``; they are in :attr:`EcgRecord.meta` after reading.

    Row faults of ``REFERENCE.csv`` (a blank recording name, a label that is not an integer from
    1 to 9, no label at all, a recording listed twice, a recording whose ``.mat`` is absent) leave
    the row out and list it in :attr:`row_problems` with the line, the column and the reason;
    ``errors="raise"`` stops at the first one. ``.mat`` files without a row are listed in ``notes``.
    """

    name = "cpsc2018"
    default_label_set = "cpsc9"

    def __init__(self, root: str | Path, seed: int = 0,
                 fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), errors: str = "skip"):
        super().__init__(root, errors=errors)
        self.seed = seed
        self.notes: list[str] = []
        self.reference = self.root / "REFERENCE.csv"
        ref = read_table(self.reference, required=("Recording", "First_label"), dtype={"Recording": str})
        mats: dict[str, Path] = {}
        for p in sorted(self.root.rglob("*.mat")):
            if p.stem in mats:
                raise EcgDataError(p, None, f"recording {p.stem} appears twice (also {mats[p.stem]})")
            mats[p.stem] = p

        parsed: list[dict] = []
        for i, r in enumerate(ref.to_dict("records")):
            line = i + 2  # header is line 1
            try:
                parsed.append(self._parse_row(r, line, list(ref.columns), mats))
            except EcgDataError as exc:
                self._row_fault(clean_str(r.get("Recording")) or f"line {line}", exc)
        lines: dict[str, list[int]] = {}
        for r in parsed:
            lines.setdefault(r["record_id"], []).append(r["ref_row"])
        dup = {k: v for k, v in lines.items() if len(v) > 1}
        for rec, where in dup.items():  # which row is right cannot be told: all are left out
            self._row_fault(rec, EcgDataError(self.reference, f"lines {', '.join(map(str, where))}: Recording",
                                              f"{rec} is listed {len(where)} times; all its rows are left out"))
        parsed = [r for r in parsed if r["record_id"] not in dup]
        if not parsed:
            raise EcgDataError(self.reference, None, "no usable row: " + "; ".join(
                p.message for p in self.row_problems[:5]))
        listed = {Path(r).stem if r.endswith(".mat") else r
                  for r in (clean_str(v) for v in ref["Recording"]) if r}  # usable or not
        extra = sorted(set(mats) - listed)
        if extra:
            self.notes.append(f"{len(extra)} .mat file(s) have no row in REFERENCE.csv and are left out: "
                              f"{', '.join(extra[:10])}")
        ids = [r["record_id"] for r in parsed]
        self.table = pd.DataFrame({
            "record_id": ids,
            "patient_id": [None] * len(ids),
            "split": patient_splits([None] * len(ids), ids, seed=seed, fractions=fractions),
            "codes": [r["codes"] for r in parsed],
            "text": [None] * len(ids),
            "path": [r["path"] for r in parsed],
            "ref_row": [r["ref_row"] for r in parsed],
        })
        self.label_sets = build_label_sets()

    def _parse_row(self, r: dict, line: int, columns: list[str], mats: dict[str, Path]) -> dict:
        """One row of ``REFERENCE.csv``, checked; raises naming the line and the column."""
        rec = clean_str(r["Recording"])
        if rec is None:
            raise EcgDataError(self.reference, f"line {line}: Recording", "blank recording name")
        rec = Path(rec).stem if rec.endswith(".mat") else rec
        labels: list[str] = []
        for col in LABEL_COLUMNS:
            if col in columns:
                labels += self._label(r[col], col, rec, line)
        if not labels:
            raise EcgDataError(self.reference, f"line {line}: First_label",
                               f"recording {rec}: no label (empty label set)")
        if rec not in mats:
            raise EcgDataError(self.reference, f"line {line}: Recording",
                               f"names recording {rec} but {rec}.mat is not under {self.root}")
        return {"record_id": rec, "codes": tuple(dict.fromkeys(labels)), "path": str(mats[rec]),
                "ref_row": line}

    def _label(self, value: Any, column: str, rec: str, line: int) -> list[str]:
        text = clean_str(value)
        if text is None:
            return []
        try:
            num = float(text)
        except ValueError:
            num = float("nan")
        if not num.is_integer() or int(num) not in LABEL_NAMES:
            raise EcgDataError(self.reference, f"line {line}: {column}",
                               f"recording {rec}: label {text!r} is not an integer from 1 to 9")
        return [LABEL_NAMES[int(num)]]

    def _mat_path(self, row: pd.Series) -> Path:
        path = Path(row["path"])
        if not path.exists():
            raise EcgDataError(self.reference, f"line {row['ref_row']}: Recording",
                               f"names recording {row['record_id']} but {path} does not exist")
        return path

    def _read_row(self, row: pd.Series) -> EcgRecord:
        path = self._mat_path(row)
        data, sex, age = load_cpsc_mat(path)
        signal, observed = place_leads(data, LEADS, path, field="ECG.data")
        return EcgRecord(signal, observed, FS, str(row["record_id"]), self.name, patient_id=None,
                         labels=tuple(row["codes"]), text=None,
                         meta={"age": age, "sex": sex, "path": str(path),
                               "n_leads": int(observed.any(axis=1).sum())})

    def header(self, index: int) -> tuple[float, int]:
        """``(500.0, n_samples)``; the sample count needs the ``.mat`` (recordings vary, 6-60 s)."""
        path = self._mat_path(self.table.iloc[int(index)])
        data, _, _ = load_cpsc_mat(path)
        return FS, int(data.shape[0])
