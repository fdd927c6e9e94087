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
    Label names separated by ``;``. Without the column the folder has no labels (text-only
    pretraining data); with it, a row whose cell is blank is skipped and reported (label a normal
    record, e.g. ``NORM``: a blank cell is never read as "no finding").
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
from ecgfoundry.io.base import SPLITS, HeaderInfo, LabelSet, RecordSource, parse_age, parse_sex
from ecgfoundry.io.tables import clean_str, is_blank, parse_integer, patient_splits, read_table
from ecgfoundry.io.wfdb_common import read_wfdb_canonical, wfdb_header_info

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
    text_source : {"text", "labels"}
        Where each record's text comes from (module docstring).
    errors : {"skip", "raise"}
        A bad row is skipped and reported (default), or stops the opening (``"raise"``).

    Notes
    -----
    Label sets: ``all`` (the sorted union of label names, each its own class), one-class ``AF`` /
    ``CD`` sets when labels of those names occur, and every set of ``label_sets.json`` (which wins
    over a built-in set of the same name).

    Row faults (a blank record path, a record whose ``.hea`` is absent, a bad split or fold, an
    empty label set, an id listed twice) leave the row out and list it in :attr:`row_problems`
    with the CSV, the line, the column and the reason; ``errors="raise"`` stops at the first one.
    Records on disk that no row lists are named in :attr:`notes`.
    """

    name = "wfdb_folder"
    default_label_set = "all"

    def __init__(self, root: str | Path, table: str = "records.csv",
                 folds: Mapping[str, Sequence[int]] | None = None, seed: int = 0,
                 fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), dataset: str | None = None,
                 text_source: str = "text", errors: str = "skip"):
        super().__init__(root, errors=errors)
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
        has_labels = "labels" in df.columns
        rows: list[dict[str, Any]] = []
        for i, raw in enumerate(df.to_dict("records")):
            line = i + 2  # line 1 is the header
            try:
                rows.append(self._parse_row(raw, line, has_labels, "split" in df.columns,
                                            "fold" in df.columns))
            except EcgDataError as exc:
                self._row_fault(clean_str(raw.get("record_id")) or clean_str(raw.get("record"))
                                or f"line {line}", exc)
        rows = self._drop_duplicates(rows)
        if not rows:
            raise EcgDataError(self.csv, None, "no usable row: " + "; ".join(
                p.message for p in self.row_problems[:5]))
        if "split" in df.columns and "fold" in df.columns:
            self.notes.append("both 'split' and 'fold' columns: 'split' is used, 'fold' kept as metadata")
        ids = [r["record_id"] for r in rows]
        patients = [r["patient_id"] for r in rows]
        codes = [r["codes"] for r in rows]
        if "split" in df.columns:
            splits = np.array([r["split"] for r in rows], dtype=object)
        elif "fold" in df.columns:
            splits = splits_from_folds(np.array([r["fold"] for r in rows]), folds or DEFAULT_FOLDS)
        else:
            splits = patient_splits(patients, ids, seed=seed, fractions=fractions)
        table_df = pd.DataFrame({
            "record_id": ids,
            "patient_id": patients,
            "split": splits,
            "codes": codes,
            "text": (labels_text(codes, descriptions) if text_source == "labels" else
                     [r["text"] for r in rows]),
            "path": [str(self.root / (r["record"] + ".hea")) for r in rows],
            "record": [r["record"] for r in rows],
            "csv_line": [r["csv_line"] for r in rows],
        })
        if "fold" in df.columns:
            table_df["fold"] = [r["fold"] for r in rows]
        if "age" in df.columns:
            table_df["age"] = [parse_age(r["raw"].get("age")) for r in rows]
        if "sex" in df.columns:
            table_df["sex"] = [parse_sex(r["raw"].get("sex")) for r in rows]
        for c in df.columns:
            if c not in RESERVED and c not in table_df.columns:
                table_df[c] = [r["raw"].get(c) for r in rows]
        named = (clean_str(v) for v in df["record"])  # every row's record, usable or not
        listed = {str((self.root / (r[:-4] if r.lower().endswith(".hea") else r)).resolve()) + ".hea"
                  for r in named if r}
        unlisted = [h.relative_to(self.root).with_suffix("").as_posix() for h in sorted(self.root.rglob("*.hea"))
                    if str(h.resolve()) not in listed]
        if unlisted:
            self.notes.append(f"{len(unlisted)} record(s) on disk are in no row of {self.csv.name} and are "
                              f"left out: {', '.join(unlisted[:10])}")
        self.table = table_df.reset_index(drop=True)
        self.label_sets = self._label_sets(codes)
        wanted = described.get("default_label_set")
        if wanted:
            if wanted not in self.label_sets:
                raise EcgDataError(self.root / "dataset.json", "default_label_set",
                                   f"{wanted!r} is not a label set of this folder ({', '.join(self.label_sets)})")
            self.default_label_set = str(wanted)

    def _parse_row(self, raw: dict, line: int, has_labels: bool, has_split: bool, has_fold: bool) -> dict:
        """One row of the CSV, checked; raises :class:`EcgDataError` naming the line and the column."""
        rec = clean_str(raw["record"])
        if rec is None:
            raise EcgDataError(self.csv, f"line {line}: record", "blank record path")
        rec = rec[:-4] if rec.lower().endswith(".hea") else rec
        rid = clean_str(raw.get("record_id")) or rec
        hea = self.root / (rec + ".hea")
        if not hea.exists():
            raise EcgDataError(self.csv, f"line {line}: record", f"names record {rec!r} but {hea} does not exist")
        codes = parse_labels(raw.get("labels"))
        if has_labels and not codes:
            raise EcgDataError(self.csv, f"line {line}: labels", f"record {rid}: empty label set (label a "
                               "normal record, e.g. NORM, rather than leaving the cell blank)")
        out = {"record": rec, "record_id": rid, "patient_id": clean_str(raw.get("patient_id")),
               "codes": codes, "text": clean_str(raw.get("text")), "csv_line": line, "raw": raw}
        if has_split:
            value = raw.get("split")
            split = clean_str(value)
            split = {"validation": "val", "valid": "val"}.get(split.lower(), split.lower()) if split else split
            if split not in SPLITS:
                raise EcgDataError(self.csv, f"line {line}: split",
                                   f"expected one of {', '.join(SPLITS)}, got {value!r}")
            out["split"] = split
        if has_fold:
            out["fold"] = self._fold(raw.get("fold"), line)
        return out

    def _drop_duplicates(self, rows: list[dict]) -> list[dict]:
        """Every row of an id listed twice is left out: which of them is right cannot be told."""
        lines: dict[str, list[int]] = {}
        for r in rows:
            lines.setdefault(r["record_id"], []).append(r["csv_line"])
        dup = self._duplicated_ids(lines, self.csv, "record_id")
        return [r for r in rows if r["record_id"] not in dup]

    # --- construction --------------------------------------------------------------------
    def _fold(self, value: Any, line: int) -> int:
        return parse_integer(value, self.csv, f"line {line}: fold")

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
        signal, observed, fs, extra = read_wfdb_canonical(hea)
        skip = {"record_id", "patient_id", "split", "codes", "text", "csv_line"}
        meta = {k: row[k] for k in row.index if k not in skip}
        meta.update(extra)
        return EcgRecord(signal, observed, float(fs), str(row["record_id"]), self.name,
                         patient_id=row["patient_id"], labels=tuple(row["codes"]), text=row["text"],
                         meta=meta)

    def header_info(self, index: int) -> HeaderInfo:
        """fs, length and leads from the ``.hea`` alone (a read when it gives no sample count)."""
        info = wfdb_header_info(self._header_path(self.table.iloc[int(index)]))
        return info if info.n_samples >= 0 else super().header_info(index)
