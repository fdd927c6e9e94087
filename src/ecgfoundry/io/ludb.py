"""The Lobachevsky University Electrocardiography Database (LUDB) in its PhysioNet layout.

Kalyakulina et al., "LUDB: A New Open-Access Validation Tool for Electrocardiogram Delineation
Algorithms", IEEE Access 8 (2020); PhysioNet, doi:10.13026/eegm-h675.

Layout: 200 records of 10 s at 500 Hz, 12 leads named ``i, ii, iii, avr, avl, avf, v1 ... v6``,
``data/<n>.hea`` + ``.dat`` (plus per-lead delineation annotations, not read here), and
``ludb.csv`` (``ID, Sex, Age, Rhythms, Electric axis of the heart, Conduction abnormalities,
Extrasystolies, Hypertrophies, Cardiac pacing, Ischemia, Non-specific repolarization
abnormalities, Other states``; a cell may hold several statements, one per line). Each header
repeats the diagnoses as comments::

    #<age>: 51
    #<sex>: F
    #<diagnoses>:
    #Rhythm: Sinus rhythm.
    #Electric axis of the heart: left.
    #Left ventricular hypertrophy.

Diagnoses come from ``ludb.csv`` when the folder has it, else from the header comments. Every
statement is kept, in order, as the record's report text; statements that name a known finding
turn on a class of the ``ludb`` label set (:data:`RULES`; matching is by phrase, case-insensitive).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ecgfoundry.batch import EcgRecord
from ecgfoundry.datasets.splits import group_splits
from ecgfoundry.errors import EcgDataError
from ecgfoundry.io.base import HeaderInfo, LabelSet, RecordSource, parse_age, parse_sex
from ecgfoundry.io.tables import clean_str, read_table
from ecgfoundry.io.wfdb_common import find_records, header_comments, read_wfdb_canonical, wfdb_header_info

RULES: tuple[tuple[str, str, str], ...] = (
    # (class, description, regular expression on the lower-cased statement); first match per rule
    ("AF", "atrial fibrillation", r"atrial fibrillation"),
    ("AFL", "atrial flutter", r"atrial flutter"),
    ("SR", "sinus rhythm", r"sinus rhythm"),
    ("SB", "sinus bradycardia", r"sinus bradycardia"),
    ("STACH", "sinus tachycardia", r"sinus tachycardia"),
    ("SARRH", "sinus arrhythmia", r"sinus arrhythmia"),
    ("IRBBB", "incomplete right bundle branch block", r"incomplete right bundle branch block"),
    ("RBBB", "complete right bundle branch block",
     r"(?<!incomplete )right bundle branch block"),
    ("ILBBB", "incomplete left bundle branch block", r"incomplete left bundle branch block"),
    ("LBBB", "complete left bundle branch block",
     r"(?<!incomplete )left bundle branch block"),
    ("LAFB", "left anterior fascicular block", r"left anterior (?:hemiblock|fascicular block)"),
    ("LPFB", "left posterior fascicular block", r"left posterior (?:hemiblock|fascicular block)"),
    ("IAVB", "first-degree AV block", r"\b(?:i|1st|first)[ -]degree av block"),
    ("IIAVB", "second-degree AV block", r"\b(?:ii|2nd|second)[ -]degree av block"),
    ("IIIAVB", "third-degree AV block", r"\b(?:iii|3rd|third)[ -]degree av block|complete av block"),
    ("WPW", "Wolff-Parkinson-White syndrome", r"wpw|wolff"),
    ("LVH", "left ventricular hypertrophy", r"left ventricular hypertrophy"),
    ("RVH", "right ventricular hypertrophy", r"right ventricular hypertrophy"),
    ("LAE", "left atrial enlargement", r"left atrial (?:hypertrophy|enlargement|overload)"),
    ("RAE", "right atrial enlargement", r"right atrial (?:hypertrophy|enlargement|overload)"),
    ("LAD", "left axis deviation", r"electric axis of the heart: left|left axis deviation"),
    ("RAD", "right axis deviation", r"electric axis of the heart: right|right axis deviation"),
    ("PAC", "atrial extrasystole", r"(?:atrial|supraventricular) extrasystol|premature atrial"),
    ("PVC", "ventricular extrasystole", r"ventricular extrasystol|premature ventricular"),
    ("PACE", "pacemaker", r"pacing|pacemaker"),
    ("MI", "myocardial infarction or scar", r"infarction|scar"),
    ("ISC", "ischemia", r"ischemi"),
    ("NSRA", "non-specific repolarization abnormality", r"non-specific repolarization"),
    ("ERS", "early repolarization", r"early repolarization"),
)
"""The ``ludb`` classes: name, description, and the phrase that turns them on."""

CLASSES: tuple[str, ...] = tuple(r[0] for r in RULES)
CD_CLASSES = ("IRBBB", "RBBB", "ILBBB", "LBBB", "LAFB", "LPFB", "IAVB", "IIAVB", "IIIAVB", "WPW")
_COMPILED = tuple((cls, re.compile(rx)) for cls, _, rx in RULES)
_NON_DIAGNOSIS = {"id", "sex", "age"}


def statement_classes(statement: str) -> tuple[str, ...]:
    """The ``ludb`` classes a diagnosis statement turns on.

    >>> statement_classes("Rhythm: Atrial fibrillation.")
    ('AF',)
    >>> statement_classes("Incomplete right bundle branch block.")
    ('IRBBB',)
    >>> statement_classes("Complete right bundle branch block.")
    ('RBBB',)
    >>> statement_classes("Electric axis of the heart: left.")
    ('LAD',)
    """
    s = " ".join(statement.lower().split())
    return tuple(cls for cls, rx in _COMPILED if rx.search(s))


def build_label_sets() -> dict[str, LabelSet]:
    """``ludb`` (every class of :data:`RULES`), ``AF`` and ``CD`` (bundle branch, fascicular and AV
    blocks, WPW)."""
    return {
        "ludb": LabelSet("ludb", CLASSES, {c: (c,) for c in CLASSES},
                         f"{len(CLASSES)} findings named in the LUDB diagnoses"),
        "AF": LabelSet("AF", ("AF",), {"AF": ("AF",)}, "atrial fibrillation"),
        "CD": LabelSet("CD", ("CD",), {c: ("CD",) for c in CD_CLASSES},
                       "conduction disturbance: " + ", ".join(CD_CLASSES)),
    }


def parse_header_diagnoses(comments: list[str]) -> tuple[float, str | None, list[str] | None]:
    """Age, sex and diagnosis statements from LUDB header comments (statements None when the
    header has no ``<diagnoses>`` line)."""
    age, sex, statements = float("nan"), None, None
    for line in comments:
        m = re.match(r"<\s*(age|sex|diagnoses)\s*>\s*:\s*(.*)$", line, re.IGNORECASE)
        if m:
            key, value = m.group(1).lower(), m.group(2).strip()
            if key == "age":
                age = 90.0 if value.startswith(">") else parse_age(value)
            elif key == "sex":
                sex = parse_sex(value)
            else:
                statements = [value] if value and value not in {"?", "(none)"} else []
        elif statements is not None and line:
            statements.append(line)
    return age, sex, statements


def _split_cell(value) -> list[str]:
    text = clean_str(value)
    if text is None:
        return []
    return [p.strip() for p in re.split(r"[\r\n;]+", text) if p.strip()]


def _sentence(statement: str) -> str:
    s = statement.strip()
    return s if s.endswith((".", "!", "?")) else s + "."


class LUDB(RecordSource):
    """LUDB from its PhysioNet folder (``ludb.csv`` and/or headers with diagnoses).

    Parameters
    ----------
    root : str or Path
        The LUDB folder (records in it or below it, e.g. ``data/``).
    seed : int
        Seed of the hashed train / val / test split (one record per patient).
    fractions : (float, float, float)
        Train / val / test fractions.
    errors : {"skip", "raise"}
        A bad row (an ``ID`` that is not an integer or is listed twice, no record file, no
        diagnosis at all) is left out and listed in :attr:`row_problems` (default), or stops the
        opening (``"raise"``).

    Notes
    -----
    Table columns: ``record_id`` (the record number), ``patient_id`` (None), ``split``, ``codes``
    (``ludb`` classes), ``text`` (every diagnosis statement, in order), ``path``, ``age``, ``sex``,
    ``statements`` (the statements, ``" | "``-joined). Statements that match no class stay in the
    text and are counted in :attr:`notes`.
    """

    name = "ludb"
    default_label_set = "ludb"

    def __init__(self, root: str | Path, seed: int = 0,
                 fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), errors: str = "skip"):
        super().__init__(root, errors=errors)
        self.notes: list[str] = []
        self.csv = self.root / "ludb.csv"
        headers = {h.stem: h for h in find_records(self.root)}
        if not headers:
            raise EcgDataError(self.root, None, "no LUDB records (*.hea) found")
        parsed = self._from_csv(headers) if self.csv.exists() else self._from_headers(headers)
        if not parsed:
            raise EcgDataError(self.csv if self.csv.exists() else self.root, None, "no usable record: " +
                               "; ".join(p.message for p in self.row_problems[:5]))
        listed = {r["record_id"] for r in parsed} | {p.record_id for p in self.row_problems}
        unlisted = sorted(set(headers) - listed, key=lambda k: (len(k), k))
        if unlisted:
            self.notes.append(f"{len(unlisted)} record(s) on disk have no row in ludb.csv and are left "
                              f"out: {', '.join(unlisted[:10])}")
        unmatched: dict[str, int] = {}
        for r in parsed:
            for st in r["statement_list"]:
                if not statement_classes(st):
                    unmatched[st] = unmatched.get(st, 0) + 1
        if unmatched:
            top = sorted(unmatched.items(), key=lambda kv: -kv[1])[:8]
            self.notes.append(f"{len(unmatched)} distinct statement(s) match no class (kept in the text): "
                              + "; ".join(f"{s!r} x{n}" for s, n in top))
        table = pd.DataFrame({
            "record_id": [r["record_id"] for r in parsed],
            "patient_id": [None] * len(parsed),
            "codes": [tuple(dict.fromkeys(c for st in r["statement_list"] for c in statement_classes(st)))
                      for r in parsed],
            "text": [" ".join(_sentence(s) for s in r["statement_list"]) for r in parsed],
            "path": [r["path"] for r in parsed],
            "age": [r["age"] for r in parsed],
            "sex": [r["sex"] for r in parsed],
            "statements": [" | ".join(r["statement_list"]) for r in parsed],
        })
        table.insert(2, "split", group_splits(table["record_id"].tolist(), fractions, seed))
        self.table = table
        self.label_sets = build_label_sets()

    # --- construction --------------------------------------------------------------------
    def _from_csv(self, headers: dict[str, Path]) -> list[dict]:
        df = read_table(self.csv, required=("ID",), dtype={"ID": str})
        diag_cols = [c for c in df.columns if c.strip().lower() not in _NON_DIAGNOSIS]
        rows, lines = [], {}
        for i, r in enumerate(df.to_dict("records")):
            line = i + 2
            try:
                rid = clean_str(r["ID"])
                if rid is None or not rid.isdigit():
                    raise EcgDataError(self.csv, f"line {line}: ID", f"not a record number: {r['ID']!r}")
                rid = str(int(rid))
                if rid not in headers:
                    raise EcgDataError(self.csv, f"line {line}: ID", f"names record {rid} but {rid}.hea is "
                                       f"not under {self.root}")
                statements = [s for c in diag_cols for s in _split_cell(r[c])]
                if not statements:
                    raise EcgDataError(self.csv, f"line {line}: diagnoses", f"record {rid}: every diagnosis "
                                       "column is blank (empty label set)")
            except EcgDataError as exc:
                self._row_fault(clean_str(r.get("ID")) or f"line {line}", exc)
                continue
            lines.setdefault(rid, []).append(line)
            age = clean_str(r.get("Age"))
            rows.append({"record_id": rid, "path": str(headers[rid]), "statement_list": statements,
                         "age": 90.0 if age and age.startswith(">") else parse_age(age),
                         "sex": parse_sex(r.get("Sex"))})
        dup = self._duplicated_ids(lines, self.csv, "ID")
        return [r for r in rows if r["record_id"] not in dup]

    def _from_headers(self, headers: dict[str, Path]) -> list[dict]:
        rows = []
        for rid in sorted(headers, key=lambda k: (len(k), k)):
            hea = headers[rid]
            try:
                age, sex, statements = parse_header_diagnoses(header_comments(hea))
                if statements is None:
                    raise EcgDataError(hea, "# <diagnoses>", "no '<diagnoses>' comment: the record has no labels")
                if not statements:
                    raise EcgDataError(hea, "# <diagnoses>", "empty: the record has no labels")
            except EcgDataError as exc:
                self._row_fault(rid, exc)
                continue
            rows.append({"record_id": rid, "path": str(hea), "statement_list": statements, "age": age,
                         "sex": sex})
        return rows

    def describe_class(self, label_set: str, cls: str) -> str:
        """Description of a class (``"LVH"`` -> ``"left ventricular hypertrophy"``)."""
        names = {c: d for c, d, _ in RULES}
        return names.get(cls, self.get_label_set(label_set).description)

    # --- reading -------------------------------------------------------------------------
    def _read_row(self, row: pd.Series) -> EcgRecord:
        hea = Path(row["path"])
        signal, observed, fs, extra = read_wfdb_canonical(hea)
        return EcgRecord(signal, observed, float(fs), str(row["record_id"]), self.name,
                         labels=tuple(row["codes"]), text=row["text"],
                         meta={"age": row["age"], "sex": row["sex"], "path": str(hea), **extra})

    def header_info(self, index: int) -> HeaderInfo:
        """fs, length and leads from the ``.hea`` alone."""
        info = wfdb_header_info(Path(self.table.iloc[int(index)]["path"]))
        return info if info.n_samples >= 0 else super().header_info(index)


