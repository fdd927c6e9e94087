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
from ecgfoundry.io.base import LabelSet, RecordSource, parse_age, parse_sex, place_leads

TEXT_SOURCES = ("report", "report_en", "statements")

SUPERCLASS_NAMES = {"NORM": "normal ECG", "MI": "myocardial infarction", "STTC": "ST/T change",
                    "CD": "conduction disturbance", "HYP": "hypertrophy"}


def _parse_scp_codes(value, path: Path, ecg_id) -> tuple[str, ...]:
    if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == "":
        return ()
    try:
        parsed = ast.literal_eval(str(value))
    except (ValueError, SyntaxError):
        raise EcgDataError(path, f"scp_codes (ecg_id {ecg_id})", f"not a dict literal: {value!r}") from None
    if not isinstance(parsed, dict):
        raise EcgDataError(path, f"scp_codes (ecg_id {ecg_id})", f"not a dict: {value!r}")
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
    text_source : {"report", "report_en", "statements"}
        ``report``: the database's free-text report (mostly German; blank for reconstructed rows).
        ``report_en``: the English translation from ``reports_en_fold10.csv`` where present, else
        the original report. ``statements``: English text built from the SCP statement
        descriptions of the record's codes (available for every record).
    require_files : bool
        Drop rows whose signal file is absent (a partial download), with a note in ``self.notes``.
        With False they stay in the table and fail when read.

    Notes
    -----
    Rows with a blank ``patient_id`` (reconstructed rows) have ``patient_id`` None; splits use
    ``strat_fold``, which PTB-XL assigns patient-wise.
    """

    name = "ptbxl"
    default_label_set = "superdiagnostic"

    def __init__(self, root: str | Path, fs: int = 100, folds: Mapping[str, Sequence[int]] | None = None,
                 text_source: str = "report", require_files: bool = True):
        super().__init__(root)
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
        db = pd.read_csv(db_path)
        need = ["ecg_id", "scp_codes", "strat_fold", "filename_lr", "filename_hr"]
        missing = [c for c in need if c not in db.columns]
        if missing:
            raise EcgDataError(db_path, ", ".join(missing), "required column(s) missing")
        statements = pd.read_csv(st_path, index_col=0)
        self.statements = statements
        self.label_sets = build_label_sets(statements)

        codes = [_parse_scp_codes(v, db_path, e) for v, e in zip(db["scp_codes"], db["ecg_id"])]
        unknown = sorted({c for cs in codes for c in cs} - set(statements.index))
        if unknown:
            raise EcgDataError(db_path, "scp_codes", f"statement(s) not in scp_statements.csv: {unknown}")
        if db["strat_fold"].isna().any():
            bad = db.loc[db["strat_fold"].isna(), "ecg_id"].tolist()[:5]
            raise EcgDataError(db_path, "strat_fold", f"blank for ecg_id {bad}")
        folds_arr = db["strat_fold"].astype(int).to_numpy()
        file_col = "filename_lr" if fs == 100 else "filename_hr"
        paths = [self.root / str(f) for f in db[file_col]]

        table = pd.DataFrame({
            "record_id": db["ecg_id"].astype(int).astype(str),
            "patient_id": [None if pd.isna(p) else str(int(p)) for p in db.get("patient_id", [np.nan] * len(db))],
            "fold": folds_arr,
            "split": splits_from_folds(folds_arr, folds or DEFAULT_FOLDS),
            "codes": codes,
            "text": self._texts(db, codes),
            "path": [str(p) + ".hea" for p in paths],
            "age": [parse_age(a) for a in db.get("age", [np.nan] * len(db))],
            "sex": [parse_sex(s) for s in db.get("sex", [None] * len(db))],
        })
        if "label_source" in db.columns:
            table["label_source"] = db["label_source"].fillna("").astype(str).str.split(":").str[0]
        if require_files:
            present = np.array([Path(p).exists() for p in table["path"]])
            if not present.all():
                n_abs = int((~present).sum())
                self.notes.append(f"{n_abs} of {len(table)} rows have no {fs} Hz file under {self.root} "
                                  f"(partial download); they are left out: {len(table) - n_abs} records remain")
                table = table[present].reset_index(drop=True)
        self.table = table

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
        if self.text_source == "report_en":
            path = self.root / "reports_en_fold10.csv"
            if not path.exists():
                raise EcgDataError(path, None, "missing: text_source='report_en' needs the English reports")
            en = pd.read_csv(path)
            if not {"ecg_id", "report_en"} <= set(en.columns):
                raise EcgDataError(path, "ecg_id, report_en", "required columns missing")
            lookup = dict(zip(en["ecg_id"].astype(int), en["report_en"].astype(str)))
            return [lookup.get(int(e), r) for e, r in zip(db["ecg_id"], report)]
        desc = self.statements["description"].to_dict()
        return [". ".join(str(desc[c]) for c in cs) + "." if cs else None for cs in codes]

    def _read_row(self, row: pd.Series) -> EcgRecord:
        from ecgfoundry.io.wfdb_common import read_wfdb

        hea = Path(row["path"])
        data, names, fs = read_wfdb(hea.with_suffix(""))
        if abs(fs - self.fs) > 1e-6:
            raise EcgDataError(hea, "sampling rate", f"{fs} Hz in the header, expected {self.fs} Hz")
        signal, observed = place_leads(data, names, hea, field="signal names")
        return EcgRecord(signal, observed, float(fs), str(row["record_id"]), self.name,
                         patient_id=row["patient_id"], labels=tuple(row["codes"]), text=row["text"],
                         meta={"age": row["age"], "sex": row["sex"], "fold": int(row["fold"]),
                               "path": str(hea)})

    def header(self, index: int) -> tuple[float, int]:
        from ecgfoundry.io.wfdb_common import read_wfdb_header

        hdr = read_wfdb_header(Path(self.table.iloc[int(index)]["path"]))
        return hdr.fs, int(hdr.n_samples or 0)
