"""MIMIC-IV-ECG: diagnostic electrocardiograms matched to the MIMIC-IV database.

Gow et al., "MIMIC-IV-ECG: Diagnostic Electrocardiogram Matched Subset" (version 1.0), PhysioNet
(2023), doi:10.13026/4nqg-sb35.

Layout: ``record_list.csv`` (``subject_id, study_id, file_name, ecg_time, path``; ``path`` is the
record relative to the folder, e.g. ``files/p1000/p10000032/s40689238/40689238``), WFDB records
(``.hea`` + ``.dat``, 500 Hz, 10 s; leads stored as I, II, III, aVR, aVF, aVL, V1-V6, reordered here
by name) and ``machine_measurements.csv`` (``subject_id, study_id, cart_id, ecg_time,
report_0 ... report_17, bandwidth, filtering, rr_interval, p_onset, ...``). The release has no
diagnostic labels: its text is the machine report, one statement per ``report_k`` column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ecgfoundry.batch import EcgRecord
from ecgfoundry.errors import EcgDataError
from ecgfoundry.io.base import HeaderInfo, LabelSet, RecordSource
from ecgfoundry.io.tables import clean_str, is_blank, patient_splits, read_table
from ecgfoundry.io.wfdb_common import read_wfdb_canonical, wfdb_header_info

_END_PUNCT = (".", ";", ":", "!", "?", ",")


def join_report(parts: Sequence[object]) -> str | None:
    """Join report statements into one text: blanks skipped, each stripped, separated by ``". "``
    (or a space when the previous statement already ends in punctuation). None when all are blank.

    >>> join_report(["Sinus rhythm", None, " Borderline ECG ", "Left axis deviation."])
    'Sinus rhythm. Borderline ECG. Left axis deviation.'
    """
    text = ""
    for part in parts:
        s = clean_str(part)
        if s is None:
            continue
        if text:
            text += " " if text.endswith(_END_PUNCT) else ". "
        text += s
    return text or None


def _report_columns(columns: Sequence[str]) -> list[str]:
    cols = [c for c in columns if c.startswith("report_") and c[7:].isdigit()]
    return sorted(cols, key=lambda c: int(c[7:]))


class MIMICECG(RecordSource):
    """MIMIC-IV-ECG from ``record_list.csv``, ``machine_measurements.csv`` and the WFDB files.

    Parameters
    ----------
    root : str or Path
        The MIMIC-IV-ECG folder.
    seed : int
        Seed of the hashed train / val / test split by ``subject_id`` (the release has no folds).
    fractions : (float, float, float)
        Train / val / test fractions.

    Notes
    -----
    Table columns: ``record_id`` (``study_id``), ``patient_id`` (``subject_id``), ``split``,
    ``codes`` (always empty), ``text`` (the joined machine report, None when it has none), ``path``
    (the ``.hea``), ``ecg_time``, and the other ``machine_measurements.csv`` columns (``cart_id``,
    ``rr_interval``, ``qrs_axis``, ...). There are no label sets: :meth:`labels` raises.
    A missing ``machine_measurements.csv`` or a study without measurements gives text None and a note.

    Row faults of ``record_list.csv`` (a blank ``study_id``, ``subject_id`` or ``path``, a study
    listed twice) leave the row out and list it in :attr:`row_problems`; ``errors="raise"`` stops
    at the first one. Files are not looked for when the dataset opens (800,000 records): a row
    whose record is absent fails when read, named in :attr:`problems`.
    """

    name = "mimic_ecg"
    default_label_set = "none"

    def __init__(self, root: str | Path, seed: int = 0,
                 fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), errors: str = "skip"):
        super().__init__(root, errors=errors)
        self.seed = seed
        self.notes: list[str] = []
        self.record_list = self.root / "record_list.csv"
        self.measurements = self.root / "machine_measurements.csv"
        rl = read_table(self.record_list, required=("subject_id", "study_id", "path"),
                        dtype={"subject_id": str, "study_id": str, "path": str, "file_name": str})
        good = []
        for i, (st, sj, pa) in enumerate(zip(rl["study_id"], rl["subject_id"], rl["path"])):
            line = i + 2  # line 1 is the header
            blank = [c for c, v in (("study_id", st), ("subject_id", sj), ("path", pa)) if is_blank(v)]
            if blank:
                self._row_fault(clean_str(st) or f"line {line}",
                                EcgDataError(self.record_list, f"line {line}: {blank[0]}", "blank"))
                continue
            good.append(i)
        study_all = pd.Series([clean_str(rl["study_id"].iloc[i]) for i in good])
        dup = set(study_all[study_all.duplicated()])
        for sid in sorted(dup):  # which row is right cannot be told: all are left out
            where = [good[k] + 2 for k in np.flatnonzero(study_all.to_numpy() == sid)]
            self._row_fault(sid, EcgDataError(self.record_list, f"lines {', '.join(map(str, where))}: study_id",
                                              f"study {sid} is listed {len(where)} times; all its rows are "
                                              "left out"))
        good = [i for i, sid in zip(good, study_all) if sid not in dup]
        if not good:
            raise EcgDataError(self.record_list, None, "no usable row: " + "; ".join(
                p.message for p in self.row_problems[:5]))
        rl = rl.iloc[good].reset_index(drop=True)
        study = [clean_str(s) for s in rl["study_id"]]
        subject = [clean_str(s) for s in rl["subject_id"]]

        texts: list[str | None] = [None] * len(study)
        extra: dict[str, list] = {}
        if self.measurements.exists():
            mm = read_table(self.measurements, required=("study_id",),
                            dtype={"study_id": str, "subject_id": str, "cart_id": str}, allow_empty=True)
            mm["study_id"] = [clean_str(s) for s in mm["study_id"]]
            if mm["study_id"].duplicated().any():
                n = int(mm["study_id"].duplicated().sum())
                self.notes.append(f"{n} duplicate study_id row(s) in machine_measurements.csv; the first "
                                  "row of each study is used")
                mm = mm.drop_duplicates("study_id", keep="first")
            reports = _report_columns(list(mm.columns))
            aligned = mm.set_index("study_id").reindex(study)
            known = set(mm["study_id"])
            if reports:
                texts = [join_report(vals) for vals in aligned[reports].itertuples(index=False)]
            missing = [s for s in study if s not in known]
            if missing:
                self.notes.append(f"{len(missing)} study(ies) have no row in machine_measurements.csv "
                                  f"(no report text): {', '.join(missing[:10])}")
            keep = [c for c in aligned.columns if c not in reports and c not in {"subject_id", "ecg_time"}]
            for c in keep:
                extra[c] = aligned[c].tolist()
        else:
            self.notes.append("machine_measurements.csv is absent: no report text")

        table = pd.DataFrame({
            "record_id": study,
            "patient_id": subject,
            "split": patient_splits(subject, study, seed=seed, fractions=fractions),
            "codes": [()] * len(study),
            "text": texts,
            "path": [str(self.root / (str(p).strip().removesuffix(".hea") + ".hea")) for p in rl["path"]],
            "ecg_time": [clean_str(t) for t in rl["ecg_time"]] if "ecg_time" in rl.columns
            else [None] * len(study),
        })
        for c, values in extra.items():
            if c not in table.columns:
                table[c] = values
        self.table = table
        self.label_sets: dict[str, LabelSet] = {}

    def get_label_set(self, label_set: str | None = None) -> LabelSet:
        if not self.label_sets:
            raise KeyError(f"{self.name}: MIMIC-IV-ECG has no diagnostic labels, only machine reports "
                           "(the 'text' column / EcgRecord.text); derive labels from the reports first")
        return super().get_label_set(label_set)

    def _read_row(self, row: pd.Series) -> EcgRecord:
        hea = Path(row["path"])
        signal, observed, fs, extra = read_wfdb_canonical(hea)
        meta = {k: row[k] for k in row.index if k not in {"record_id", "patient_id", "codes", "text", "split"}}
        meta.update(extra)
        return EcgRecord(signal, observed, float(fs), str(row["record_id"]), self.name,
                         patient_id=row["patient_id"], labels=(), text=row["text"], meta=meta)

    def header_info(self, index: int) -> HeaderInfo:
        """fs, length and leads from the ``.hea`` alone (a read when it gives no sample count)."""
        info = wfdb_header_info(Path(self.table.iloc[int(index)]["path"]))
        return info if info.n_samples >= 0 else super().header_info(index)
