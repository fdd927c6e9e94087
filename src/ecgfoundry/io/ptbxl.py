"""PTB-XL (Wagner et al., Scientific Data 7:154, 2020) in its official PhysioNet layout.

Label aggregation follows the usual benchmark protocol (Strodthoff et al., IEEE JBHI 2021): every
key of ``scp_codes`` counts, likelihoods are ignored; superdiagnostic (5) and subdiagnostic (23)
classes come from ``diagnostic_class`` / ``diagnostic_subclass`` of the statements with
``diagnostic == 1``; diagnostic (44), form (19), rhythm (12) and all (71) are the statements
themselves. Binary tasks: ``AF`` (rhythm statement ``AFIB``) and ``CD`` (superclass CD).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ecgfoundry.batch import EcgRecord
from ecgfoundry.datasets.splits import DEFAULT_FOLDS, splits_from_folds
from ecgfoundry.errors import EcgDataError
from ecgfoundry.io.base import HeaderInfo, LabelSet, RecordSource, parse_age, parse_sex
from ecgfoundry.io.tables import clean_str, is_blank, parse_integer, read_table
from ecgfoundry.io.wfdb_common import read_wfdb_canonical, wfdb_header_info

TEXT_SOURCES = ("report", "report_en", "report_glossary", "statements")

SUPERCLASS_NAMES = {"NORM": "normal ECG", "MI": "myocardial infarction", "STTC": "ST/T change",
                    "CD": "conduction disturbance", "HYP": "hypertrophy"}


def _parse_scp_codes(value, path: Path, field: str) -> tuple[str, ...]:
    if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == "":
        return ()
    try:
        parsed = ast.literal_eval(str(value))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise EcgDataError(path, field, f"not a dict literal: {value!r}") from None
    if not isinstance(parsed, dict):
        raise EcgDataError(path, field, f"not a dict: {value!r}")
    return tuple(str(k) for k in parsed)


def build_label_sets(statements: pd.DataFrame) -> dict[str, LabelSet]:
    """PTB-XL label sets from ``scp_statements.csv`` (indexed by statement code)."""
    def flag(col: str) -> pd.Series:
        return statements[col].fillna(0).astype(float) == 1

    diag = statements[flag("diagnostic")]
    sets: dict[str, LabelSet] = {}
    sup = tuple(sorted(diag["diagnostic_class"].dropna().unique()))
    sets["superdiagnostic"] = LabelSet("superdiagnostic", sup, {c: (r["diagnostic_class"],) for c, r in diag.iterrows()},
                                       "5 diagnostic superclasses (diagnostic_class)")
    sub = tuple(sorted(diag["diagnostic_subclass"].dropna().unique()))
    sets["subdiagnostic"] = LabelSet("subdiagnostic", sub, {c: (r["diagnostic_subclass"],) for c, r in diag.iterrows()},
                                     "23 diagnostic subclasses (diagnostic_subclass)")
    for name, mask, what in (("diagnostic", flag("diagnostic"), "diagnostic statements"),
                             ("form", flag("form"), "form statements"),
                             ("rhythm", flag("rhythm"), "rhythm statements"),
                             ("all", pd.Series(True, index=statements.index), "all SCP statements")):
        codes = tuple(sorted(statements.index[mask]))
        sets[name] = LabelSet(name, codes, {c: (c,) for c in codes}, f"{len(codes)} {what}")
    sets["AF"] = LabelSet("AF", ("AF",), {"AFIB": ("AF",)}, "atrial fibrillation (rhythm statement AFIB)")
    cd_codes = diag.index[diag["diagnostic_class"] == "CD"]
    sets["CD"] = LabelSet("CD", ("CD",), {c: ("CD",) for c in cd_codes},
                          "conduction disturbance (any statement of superclass CD)")
    return sets


class PTBXL(RecordSource):
    """PTB-XL from its official folder (``ptbxl_database.csv``, ``scp_statements.csv``,
    ``records100/``, ``records500/``).

    Parameters
    ----------
    root : str or Path
        The PTB-XL folder.
    fs : {100, 500}
        Which recordings to read (``filename_lr`` or ``filename_hr``).
    folds : mapping of split name -> fold numbers, optional
        Default: folds 1-8 train, 9 validation, 10 test (``strat_fold``).
    text_source : {"report", "report_en", "report_glossary", "statements"}
        ``report``: the database's free-text report (mostly German; blank for reconstructed rows).
        ``report_en``: the English translation from ``reports_en_fold10.csv`` where present, else
        the original report. ``report_glossary``: the report with its German and Swedish terms put
        into English by a glossary (:mod:`ecgfoundry.io.report_glossary`), for English text encoders. ``statements``: English text built from the SCP statement
        descriptions of the record's codes (available for every record).
    require_files : bool
        Drop rows whose signal file is absent (a partial download), with a note in ``self.notes``.
        With False they stay in the table and fail when read.
    errors : {"skip", "raise"}
        A bad row of ``ptbxl_database.csv`` (an ``ecg_id`` that is not an integer or is listed
        twice, unparseable, empty or unknown ``scp_codes``, a ``strat_fold`` outside 1-10, a blank
        file name) is left out and listed in :attr:`row_problems` with the line, the id, the column
        and the reason (default), or stops the opening (``"raise"``).

    Notes
    -----
    Rows with a blank ``patient_id`` (reconstructed rows) have ``patient_id`` None; splits use
    ``strat_fold``, which PTB-XL assigns patient-wise.
    """

    name = "ptbxl"
    default_label_set = "superdiagnostic"

    def __init__(self, root: str | Path, fs: int = 100, folds: Mapping[str, Sequence[int]] | None = None,
                 text_source: str = "report", require_files: bool = True, errors: str = "skip"):
        super().__init__(root, errors=errors)
        if fs not in (100, 500):
            raise ValueError(f"PTB-XL fs must be 100 or 500, got {fs}")
        if text_source not in TEXT_SOURCES:
            raise ValueError(f"text_source must be one of {TEXT_SOURCES}, got {text_source!r}")
        self.fs = fs
        self.text_source = text_source
        self.notes: list[str] = []
        db_path = self.root / "ptbxl_database.csv"
        st_path = self.root / "scp_statements.csv"
        for p in (db_path, st_path):
            if not p.exists():
                raise EcgDataError(p, None, "missing (is this the PTB-XL folder?)")
        db = read_table(db_path, required=("ecg_id", "scp_codes", "strat_fold", "filename_lr", "filename_hr"))
        statements = read_table(st_path, required=("description", "diagnostic", "form", "rhythm",
                                                   "diagnostic_class", "diagnostic_subclass"))
        statements = statements.set_index(statements.columns[0])
        self.statements = statements
        self.label_sets = build_label_sets(statements)
        self.db_path = db_path
        file_col = "filename_lr" if fs == 100 else "filename_hr"

        rows, keep = [], []
        for i, r in enumerate(db.to_dict("records")):
            line = i + 2  # line 1 is the header
            try:
                rows.append(self._parse_row(r, line, file_col))
                keep.append(i)
            except EcgDataError as exc:
                self._row_fault(clean_str(r.get("ecg_id")) or f"line {line}", exc)
        rows, keep = self._drop_duplicates(rows, keep)
        if not rows:
            raise EcgDataError(db_path, None, "no usable row: " + "; ".join(
                p.message for p in self.row_problems[:5]))
        db = db.iloc[keep].reset_index(drop=True)
        codes = [r["codes"] for r in rows]
        folds_arr = np.array([r["fold"] for r in rows], dtype=int)
        table = pd.DataFrame({
            "record_id": [r["record_id"] for r in rows],
            "patient_id": [r["patient_id"] for r in rows],
            "fold": folds_arr,
            "split": splits_from_folds(folds_arr, folds or DEFAULT_FOLDS),
            "codes": codes,
            "text": self._texts(db, codes),
            "path": [r["path"] for r in rows],
            "age": [parse_age(a) for a in db.get("age", [np.nan] * len(db))],
            "sex": [parse_sex(s) for s in db.get("sex", [None] * len(db))],
        })
        if "label_source" in db.columns:
            table["label_source"] = db["label_source"].fillna("").astype(str).str.split(":").str[0]
        if require_files:
            present = np.array([Path(p).exists() for p in table["path"]])
            if not present.all():
                n_abs = int((~present).sum())
                absent = ", ".join(table.loc[~present, "record_id"].head(10))
                self.notes.append(f"{n_abs} of {len(table)} rows have no {fs} Hz file under {self.root} "
                                  f"(partial download); they are left out: {len(table) - n_abs} records "
                                  f"remain (ecg_id {absent}{', ...' if n_abs > 10 else ''})")
                table = table[present].reset_index(drop=True)
        folder = self.root / ("records100" if fs == 100 else "records500")
        if folder.is_dir():
            listed = {str(Path(p).resolve()) for p in table["path"]}
            unlisted = [h.stem for h in sorted(folder.rglob("*.hea")) if str(h.resolve()) not in listed]
            if unlisted:
                self.notes.append(f"{len(unlisted)} record(s) in {folder.name}/ have no usable row in "
                                  f"ptbxl_database.csv and are left out: {', '.join(unlisted[:10])}")
        self.table = table

    def _parse_row(self, r: dict, line: int, file_col: str) -> dict:
        """One row of ``ptbxl_database.csv``, checked; raises naming the line, the id and the column."""
        path = self.db_path
        ecg_id = parse_integer(r["ecg_id"], path, f"ecg_id (line {line})")
        where = f"(line {line}, ecg_id {ecg_id})"
        codes = _parse_scp_codes(r["scp_codes"], path, f"scp_codes {where}")
        if not codes:
            raise EcgDataError(path, f"scp_codes {where}", "empty: the record has no statement")
        unknown = [c for c in codes if c not in self.statements.index]
        if unknown:
            raise EcgDataError(path, f"scp_codes {where}", f"statement(s) not in scp_statements.csv: {unknown}")
        fold = parse_integer(r["strat_fold"], path, f"strat_fold {where}")
        if not 1 <= fold <= 10:
            raise EcgDataError(path, f"strat_fold {where}", f"must be a fold from 1 to 10, got {fold}")
        pid = r.get("patient_id")
        pid = None if is_blank(pid) else str(parse_integer(pid, path, f"patient_id {where}"))
        fname = clean_str(r[file_col])
        if fname is None:
            raise EcgDataError(path, f"{file_col} {where}", "blank file name")
        return {"record_id": str(ecg_id), "patient_id": pid, "fold": fold, "codes": codes,
                "path": str(self.root / fname) + ".hea", "line": line}

    def _drop_duplicates(self, rows: list[dict], keep: list[int]) -> tuple[list[dict], list[int]]:
        """Every row of an ``ecg_id`` listed twice is left out: which one is right cannot be told."""
        lines: dict[str, list[int]] = {}
        for r in rows:
            lines.setdefault(r["record_id"], []).append(r["line"])
        dup = self._duplicated_ids(lines, self.db_path, "ecg_id", what="ecg_id")
        pairs = [(r, k) for r, k in zip(rows, keep) if r["record_id"] not in dup]
        return [r for r, _ in pairs], [k for _, k in pairs]

    def describe_class(self, label_set: str, cls: str) -> str:
        """English description of a class (statement description, or the superclass name)."""
        if cls in SUPERCLASS_NAMES:
            return SUPERCLASS_NAMES[cls]
        if cls in self.statements.index:
            return str(self.statements.loc[cls, "description"])
        return self.get_label_set(label_set).description if cls in ("AF", "CD") else cls

    def _texts(self, db: pd.DataFrame, codes: list[tuple[str, ...]]) -> list[str | None]:
        report = [None if pd.isna(r) or not str(r).strip() else str(r).strip()
                  for r in db.get("report", [None] * len(db))]
        if self.text_source == "report":
            return report
        if self.text_source == "report_glossary":
            from ecgfoundry.io.report_glossary import translate_report

            return [translate_report(r) for r in report]
        if self.text_source == "report_en":
            path = self.root / "reports_en_fold10.csv"
            if not path.exists():
                raise EcgDataError(path, None, "missing: text_source='report_en' needs the English reports")
            en = read_table(path, required=("ecg_id", "report_en"))
            lookup = {}
            for e, t in zip(en["ecg_id"], en["report_en"]):
                key, text = clean_str(e), clean_str(t)
                if key is not None and text is not None:
                    lookup[key] = text
            return [lookup.get(clean_str(e), r) for e, r in zip(db["ecg_id"], report)]
        desc = self.statements["description"].to_dict()
        return [". ".join(str(desc[c]) for c in cs) + "." if cs else None for cs in codes]

    def _read_row(self, row: pd.Series) -> EcgRecord:
        hea = Path(row["path"])
        signal, observed, fs, extra = read_wfdb_canonical(hea.with_suffix(""))
        if abs(fs - self.fs) > 1e-6:
            raise EcgDataError(hea, "sampling rate", f"{fs} Hz in the header, expected {self.fs} Hz")
        return EcgRecord(signal, observed, float(fs), str(row["record_id"]), self.name,
                         patient_id=row["patient_id"], labels=tuple(row["codes"]), text=row["text"],
                         meta={"age": row["age"], "sex": row["sex"], "fold": int(row["fold"]),
                               "path": str(hea), **extra})

    def header_info(self, index: int) -> HeaderInfo:
        """fs, length and leads from the ``.hea`` alone, with the same fs check as a read."""
        hea = Path(self.table.iloc[int(index)]["path"])
        info = wfdb_header_info(hea)
        if abs(info.fs - self.fs) > 1e-6:
            raise EcgDataError(hea, "sampling rate", f"{info.fs} Hz in the header, expected {self.fs} Hz")
        return info if info.n_samples >= 0 else super().header_info(index)
