"""A generic folder of WFDB records described by a CSV table (the format of ecgfoundry's synthetic
generator, and the easiest way to bring one's own data).

Layout::

    folder/
      records.csv          one row per record (columns below)
      label_sets.json      optional: named class lists and code -> classes mappings
      records/00001.hea    WFDB records at the paths named in the CSV (any sub-folders)
      records/00001.dat
      ...                  any other files are ignored

CSV columns:

``record`` (required)
    WFDB record path relative to the folder, without extension.
``record_id``
    Identity of the record (default: ``record``).
``labels``
    Label names separated by ``;`` (blank: no label).
``text``
    Free-text report.
``patient_id``
    Patient identity, for patient-wise splits.
``split`` or ``fold``
    ``train`` / ``val`` / ``test``, or an integer fold mapped with ``folds``; without either, the
    split is hashed from ``patient_id`` (else the record) with ``seed``.
``age``, ``sex``
    Demographics; any other column is kept as metadata.

``label_sets.json``: ``{"name": {"classes": [...], "mapping": {"code": ["class", ...]},
"description": "..."}}``; a set without ``mapping`` maps each class name to itself.

``dataset.json`` (optional): ``{"name": ..., "default_label_set": ..., "label_descriptions":
{"code": "description", ...}}``.

Text: ``text_source="text"`` (default) reads the ``text`` column; ``text_source="labels"`` builds each
record's text from its label names instead, one sentence per label from ``label_descriptions``
(the label name itself where it has none), like PTB-XL's ``statements`` option. A record without
labels then has no text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ecgfoundry.batch import EcgRecord
from ecgfoundry.datasets.splits import DEFAULT_FOLDS, splits_from_folds
from ecgfoundry.errors import EcgDataError
from ecgfoundry.io.base import SPLITS, LabelSet, RecordSource, parse_age, parse_sex, place_leads
from ecgfoundry.io.tables import clean_str, is_blank, patient_splits, read_table
from ecgfoundry.io.wfdb_common import read_wfdb, read_wfdb_header

def _read_dataset_json(path: Path) -> dict:
    """Optional ``dataset.json``: ``{"name": ..., "default_label_set": ...}``."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise EcgDataError(path, None, f"corrupt JSON ({exc})") from None
    if not isinstance(data, dict):
        raise EcgDataError(path, None, "must hold a JSON object")
    return data


TEXT_SOURCES = ("text", "labels")


def labels_text(codes: Sequence[tuple[str, ...]], descriptions: Mapping[str, str]) -> list[str | None]:
    """One text per record from its label names: ``"Anterior STEMI. Left ventricular hypertrophy."``."""
    out: list[str | None] = []
    for labels in codes:
        parts = [str(descriptions.get(c, c)).strip().rstrip(".") for c in labels]
        parts = [p[:1].upper() + p[1:] for p in parts if p]
        out.append(". ".join(parts) + "." if parts else None)
    return out


RESERVED = ("record", "record_id", "labels", "text", "patient_id", "split", "fold", "age", "sex")
BINARY_SETS: dict[str, str] = {"AF": "atrial fibrillation (label AF)",
                               "CD": "conduction disturbance (label CD)"}
"""Label names that also get a one-class set of their own when present."""


def parse_labels(value: Any) -> tuple[str, ...]:
    """``"AF; LBBB"`` -> ``("AF", "LBBB")``; blank -> ``()``; repeated names kept once."""
    if is_blank(value):
        return ()
    return tuple(dict.fromkeys(p.strip() for p in str(value).split(";") if p.strip()))


def load_label_sets(path: str | Path) -> dict[str, LabelSet]:
    """Label sets from a ``label_sets.json`` file, with errors naming the file and the set."""
    path = Path(path)
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EcgDataError(path, None, f"unreadable JSON ({type(exc).__name__}: {exc})") from None
    if not isinstance(spec, dict):
        raise EcgDataError(path, None, "expected an object {name: {classes, mapping}}")
    sets: dict[str, LabelSet] = {}
    for name, entry in spec.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("classes"), list) or \
                not all(isinstance(c, str) for c in entry["classes"]) or not entry["classes"]:
            raise EcgDataError(path, f"{name}.classes", "expected a non-empty list of class names")
        classes = tuple(entry["classes"])
        raw = entry.get("mapping", {c: [c] for c in classes})
        if not isinstance(raw, dict):
            raise EcgDataError(path, f"{name}.mapping", "expected an object {code: [classes]}")
        mapping: dict[str, tuple[str, ...]] = {}
        for code, targets in raw.items():
            targets = [targets] if isinstance(targets, str) else targets
            if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
                raise EcgDataError(path, f"{name}.mapping.{code}", "expected a class name or a list of them")
            mapping[str(code)] = tuple(targets)
        try:
            sets[str(name)] = LabelSet(str(name), classes, mapping, str(entry.get("description", "")))
        except ValueError as exc:
            raise EcgDataError(path, f"{name}.mapping", str(exc)) from None
    return sets


class WFDBFolder(RecordSource):
    """WFDB records listed in a CSV table (see the module docstring for the layout).

    Parameters
    ----------
    root : str or Path
        The folder.
    table : str
        CSV file name, relative to ``root``.
    folds : mapping of split name -> fold numbers, optional
        Used when the CSV has a ``fold`` column (default: 1-8 train, 9 val, 10 test; folds named in
        no split get ``"unused"``).
    seed : int
        Seed of the hashed patient-wise split when the CSV has neither ``split`` nor ``fold``.
    fractions : (float, float, float)
        Train / val / test fractions of the hashed split.
    dataset : str, optional
        Dataset name stored in every record (default ``"wfdb_folder"``).

    Notes
    -----
    Label sets: ``all`` (the sorted union of label names, each its own class), one-class ``AF`` /
    ``CD`` sets when labels of those names occur, and every set of ``label_sets.json`` (which wins
    over a built-in set of the same name). A row naming an absent record stays in the table and
    fails when read, naming the CSV, the line and the record.
    """

    name = "wfdb_folder"
    default_label_set = "all"

    def __init__(self, root: str | Path, table: str = "records.csv",
                 folds: Mapping[str, Sequence[int]] | None = None, seed: int = 0,
                 fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), dataset: str | None = None,
                 text_source: str = "text"):
        super().__init__(root)
        if text_source not in TEXT_SOURCES:
            raise ValueError(f"text_source must be one of {TEXT_SOURCES} for a WFDB folder, got {text_source!r}")
        self.text_source = text_source
        described = _read_dataset_json(self.root / "dataset.json")
        descriptions = described.get("label_descriptions", {})
        if not isinstance(descriptions, dict) or not all(isinstance(v, str) for v in descriptions.values()):
            raise EcgDataError(self.root / "dataset.json", "label_descriptions",
                               "expected an object {label: description}")
        if dataset or described.get("name"):
            self.name = dataset or str(described["name"])
        self.seed = seed
        self.notes: list[str] = []
        self.csv = self.root / table
        df = read_table(self.csv, required=("record",),
                        dtype={c: str for c in ("record", "record_id", "labels", "text", "patient_id", "split")})
        lines = np.arange(len(df)) + 2  # line 1 is the header
        records = []
        for line, value in zip(lines, df["record"]):
            rec = clean_str(value)
            if rec is None:
                raise EcgDataError(self.csv, f"line {line}: record", "blank record path")
            records.append(rec[:-4] if rec.lower().endswith(".hea") else rec)
        ids = [clean_str(v) or r for v, r in zip(df["record_id"], records)] if "record_id" in df.columns \
            else list(records)
        dup = pd.Series(ids)[pd.Series(ids).duplicated()].tolist()
        if dup:
            raise EcgDataError(self.csv, "record_id" if "record_id" in df.columns else "record",
                               f"listed more than once: {dup[:5]}")
        patients = [clean_str(p) for p in df["patient_id"]] if "patient_id" in df.columns else [None] * len(df)
        codes = [parse_labels(v) for v in df["labels"]] if "labels" in df.columns else [()] * len(df)

        table_df = pd.DataFrame({
            "record_id": ids,
            "patient_id": patients,
            "split": self._splits(df, lines, patients, ids, folds, seed, fractions),
            "codes": codes,
            "text": (labels_text(codes, descriptions) if text_source == "labels" else
                     [clean_str(t) for t in df["text"]] if "text" in df.columns else [None] * len(df)),
            "path": [str(self.root / (r + ".hea")) for r in records],
            "record": records,
            "csv_line": lines,
        })
        if "fold" in df.columns:
            table_df["fold"] = self._folds(df, lines)
        if "age" in df.columns:
            table_df["age"] = [parse_age(a) for a in df["age"]]
        if "sex" in df.columns:
            table_df["sex"] = [parse_sex(s) for s in df["sex"]]
        for c in df.columns:
            if c not in RESERVED and c not in table_df.columns:
                table_df[c] = df[c].to_numpy()
        absent = [r for r, p in zip(records, table_df["path"]) if not Path(p).exists()]
        if absent:
            self.notes.append(f"{len(absent)} row(s) of {self.csv.name} name records without a .hea "
                              f"file; they fail when read: {', '.join(absent[:10])}")
        self.table = table_df
        self.label_sets = self._label_sets(codes)
        wanted = described.get("default_label_set")
        if wanted:
            if wanted not in self.label_sets:
                raise EcgDataError(self.root / "dataset.json", "default_label_set",
                                   f"{wanted!r} is not a label set of this folder ({', '.join(self.label_sets)})")
            self.default_label_set = str(wanted)

    # --- construction --------------------------------------------------------------------
    def _folds(self, df: pd.DataFrame, lines: np.ndarray) -> np.ndarray:
        out = np.empty(len(df), dtype=int)
        for i, (line, value) in enumerate(zip(lines, df["fold"])):
            try:
                num = float(value)
                if not num.is_integer():
                    raise ValueError
            except (TypeError, ValueError):
                raise EcgDataError(self.csv, f"line {line}: fold", f"not an integer: {value!r}") from None
            out[i] = int(num)
        return out

    def _splits(self, df: pd.DataFrame, lines: np.ndarray, patients: list, ids: list,
                folds: Mapping[str, Sequence[int]] | None, seed: int,
                fractions: tuple[float, float, float]) -> np.ndarray:
        if "split" in df.columns:
            out = np.empty(len(df), dtype=object)
            for i, (line, value) in enumerate(zip(lines, df["split"])):
                s = clean_str(value)
                s = s.lower() if s else s
                s = {"validation": "val", "valid": "val"}.get(s, s)
                if s not in SPLITS:
                    raise EcgDataError(self.csv, f"line {line}: split",
                                       f"expected one of {', '.join(SPLITS)}, got {value!r}")
                out[i] = s
            if "fold" in df.columns:
                self.notes.append("both 'split' and 'fold' columns: 'split' is used, 'fold' kept as metadata")
            return out
        if "fold" in df.columns:
            return splits_from_folds(self._folds(df, lines), folds or DEFAULT_FOLDS)
        return patient_splits(patients, ids, seed=seed, fractions=fractions)

    def _label_sets(self, codes: list[tuple[str, ...]]) -> dict[str, LabelSet]:
        names = sorted({c for cs in codes for c in cs})
        sets: dict[str, LabelSet] = {
            "all": LabelSet("all", tuple(names), {c: (c,) for c in names},
                            f"every label name in {self.csv.name} ({len(names)})")}
        for name, desc in BINARY_SETS.items():
            if name in names:
                sets[name] = LabelSet(name, (name,), {name: (name,)}, desc)
        spec = self.root / "label_sets.json"
        if spec.exists():
            extra = load_label_sets(spec)
            overridden = sorted(set(extra) & set(sets))
            if overridden:
                self.notes.append(f"label_sets.json redefines {', '.join(overridden)}")
            sets.update(extra)
        return sets

    # --- reading -------------------------------------------------------------------------
    def _header_path(self, row: pd.Series) -> Path:
        hea = Path(row["path"])
        if not hea.exists():
            raise EcgDataError(self.csv, f"line {row['csv_line']}: record",
                               f"names record {row['record']!r} but {hea} does not exist")
        return hea

    def _read_row(self, row: pd.Series) -> EcgRecord:
        hea = self._header_path(row)
        data, names, fs = read_wfdb(hea)
        signal, observed = place_leads(data, names, hea, field="signal names")
        skip = {"record_id", "patient_id", "split", "codes", "text", "csv_line"}
        meta = {k: row[k] for k in row.index if k not in skip}
        return EcgRecord(signal, observed, float(fs), str(row["record_id"]), self.name,
                         patient_id=row["patient_id"], labels=tuple(row["codes"]), text=row["text"],
                         meta=meta)

    def header(self, index: int) -> tuple[float, int]:
        """``(fs, n_samples)`` from the ``.hea`` alone."""
        hdr = read_wfdb_header(self._header_path(self.table.iloc[int(index)]))
        if hdr.n_samples is None:
            rec = self.read(index)
            return rec.fs, rec.n_samples
        return hdr.fs, hdr.n_samples
