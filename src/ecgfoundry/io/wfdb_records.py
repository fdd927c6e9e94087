"""Any folder of WFDB records without an index table: MIT-BIH, CPSC2021, PTB Diagnostic, a
recorder's export, ...

Every ``*.hea`` below the folder is a record (segment headers of multi-segment records are read
through their master header). The folder has no labels: give them with a table of your own
(:class:`~ecgfoundry.io.wfdb_folder.WFDBFolder`, ``--table`` on the ``data`` commands). Age and sex
come from header comments where they are written as ``# Age: 61`` / ``# <age>: 61`` (PhysioNet
info strings) or, as in MIT-BIH, as the first comment ``# 69 M ...``; other comments are kept as
metadata (``comments``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ecgfoundry.batch import EcgRecord
from ecgfoundry.datasets.splits import group_splits
from ecgfoundry.errors import EcgDataError
from ecgfoundry.io.base import HeaderInfo, LabelSet, RecordSource, parse_age, parse_sex
from ecgfoundry.io.wfdb_common import find_records, header_comments, read_wfdb_canonical, wfdb_header_info

_AGE_SEX = re.compile(r"^(\d{1,3})\s+([MF])\b")  # MIT-BIH: "# 69 M 1085 1629 x1"


def demographics(comments: list[str]) -> tuple[float, str | None]:
    """Age (NaN when unknown) and sex (``"M"``/``"F"``/None) from header comment lines.

    >>> demographics(["<age>: 51 <sex>: F <diagnoses>: (none)"])
    (51.0, 'F')
    >>> demographics(["69 M 1085 1629 x1", "Aldomet, Inderal"])
    (69.0, 'M')
    """
    age, sex = float("nan"), None
    for line in comments:
        for m in re.finditer(r"<?\s*(age|sex|gender)\s*>?\s*:\s*([^\s<]+)", line, re.IGNORECASE):
            key, value = m.group(1).lower(), m.group(2).strip().rstrip(".,;")
            if key == "age":
                age = 90.0 if value.startswith(">") else parse_age(value)
            else:
                sex = parse_sex(value)
    if comments and age != age and sex is None:  # NaN: nothing found as key: value
        m = _AGE_SEX.match(comments[0])
        if m:
            age, sex = parse_age(m.group(1)), parse_sex(m.group(2))
    return age, sex


class WFDBRecords(RecordSource):
    """Every WFDB record below a folder that has no index table.

    Parameters
    ----------
    root : str or Path
        The folder (searched recursively).
    seed : int
        Seed of the hashed train / val / test split (no patient ids: each record is its own group).
    fractions : (float, float, float)
        Train / val / test fractions.
    errors : {"skip", "raise"}
        A header that cannot be read at all is left out and listed in :attr:`row_problems`
        (default), or stops the opening (``"raise"``).
    dataset : str, optional
        Dataset name stored in every record (default ``"wfdb"``; e.g. ``"mitdb"``).

    Notes
    -----
    No label sets: :meth:`labels` raises a :class:`KeyError` that says how to add labels.
    Records of any length, rate and lead count are read as they are; a record with fewer than 12
    leads has the others unobserved (``EcgRecord.meta["n_leads"]`` says how many are observed).
    """

    name = "wfdb"
    default_label_set = "none"

    def __init__(self, root: str | Path, seed: int = 0,
                 fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), errors: str = "skip",
                 dataset: str | None = None):
        super().__init__(root, errors=errors)
        if dataset:
            self.name = dataset
        self.notes: list[str] = []
        headers = find_records(self.root)
        if not headers:
            raise EcgDataError(self.root, None, "no WFDB records (*.hea) found")
        rows = []
        for hea in headers:
            try:
                comments = header_comments(hea)
            except EcgDataError as exc:
                self._row_fault(hea.stem, exc)
                continue
            age, sex = demographics(comments)
            rows.append({"record_id": hea.relative_to(self.root).with_suffix("").as_posix(),
                         "patient_id": None, "codes": (), "text": None, "path": str(hea), "age": age,
                         "sex": sex, "comments": " | ".join(comments) or None})
        if not rows:
            raise EcgDataError(self.root, None, "no readable WFDB header: " + "; ".join(
                p.message for p in self.row_problems[:5]))
        table = pd.DataFrame(rows)
        table.insert(2, "split", group_splits(table["record_id"].tolist(), fractions, seed))
        self.table = table
        self.label_sets: dict[str, LabelSet] = {}
        self.notes.append(f"no index table: {len(table)} WFDB record(s) without labels; to label them, "
                          "list them in a CSV (record, labels, ...) and pass it with --table")

    def get_label_set(self, label_set: str | None = None) -> LabelSet:
        if not self.label_sets:
            raise KeyError(f"{self.name}: {self.root} has no labels (a plain folder of WFDB records); "
                           "list the records with their labels in a CSV and open it with "
                           "WFDBFolder(root, table=...) or '--table' on the data commands")
        return super().get_label_set(label_set)

    def _read_row(self, row: pd.Series) -> EcgRecord:
        hea = Path(row["path"])
        signal, observed, fs, extra = read_wfdb_canonical(hea)
        return EcgRecord(signal, observed, float(fs), str(row["record_id"]), self.name,
                         meta={"age": row["age"], "sex": row["sex"], "path": str(hea),
                               "comments": row["comments"], **extra})

    def header_info(self, index: int) -> HeaderInfo:
        """fs, length and leads from the ``.hea`` alone (a read when it gives no sample count)."""
        info = wfdb_header_info(Path(self.table.iloc[int(index)]["path"]))
        return info if info.n_samples >= 0 else super().header_info(index)
