"""PhysioNet/Computing in Cardiology Challenge 2020-2021 records (``.hea`` + ``.mat``).

Reyna et al., "Will Two Do? Varying Dimensions in Electrocardiography: the PhysioNet/Computing in
Cardiology Challenge 2021". Labels are SNOMED-CT codes in the ``# Dx:`` header comment; they are
named through the challenge's mapping tables (``dx_mapping_scored.csv`` / ``dx_mapping_unscored.csv``,
BSD-2, shipped in ``ecgfoundry/data``). The challenge scores four pairs as one class; the
``scored`` label set merges them under one name:

======================  ==========================  ==========
codes                   challenge abbreviations     class name
======================  ==========================  ==========
713427006 ≡ 59118001    CRBBB / RBBB                RBBB
733534002 ≡ 164909002   CLBBB / LBBB                LBBB
284470004 ≡ 63593006    PAC / SVPB                  PAC
427172004 ≡ 17338001    PVC / VPB                   PVC
======================  ==========================  ==========

Sources are told apart by the record name prefix: ``A`` CPSC, ``Q`` CPSC-Extra, ``I`` INCART
(St Petersburg), ``S`` PTB, ``HR`` PTB-XL, ``E`` Georgia, ``JS`` Chapman-Shaoxing (JS00001-JS10646)
and Ningbo (JS10647 onwards). Records of any length and sampling rate are read as they are
(INCART is 257 Hz and 30 min, PTB 1000 Hz); harmonise them with :mod:`ecgfoundry.signals` or the
dataset cache.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pandas as pd

from ecgfoundry.batch import EcgRecord
from ecgfoundry.datasets.splits import group_splits
from ecgfoundry.errors import EcgDataError
from ecgfoundry.io.base import HeaderInfo, LabelSet, RecordSource, parse_age, parse_sex
from ecgfoundry.io.wfdb_common import read_wfdb_canonical, wfdb_header_info

EQUIVALENT: dict[str, str] = {
    "713427006": "59118001",   # CRBBB -> RBBB
    "733534002": "164909002",  # CLBBB -> LBBB
    "284470004": "63593006",   # PAC -> SVPB (class named PAC)
    "427172004": "17338001",   # PVC -> VPB (class named PVC)
}
_MERGED_NAMES = {"59118001": "RBBB", "164909002": "LBBB", "63593006": "PAC", "17338001": "PVC"}

AF_CODE = "164889003"

CD_ABBREVIATIONS = ("IAVB", "IIAVB", "IIAVBII", "MoI", "CHB", "AVB", "CIAHB", "LPR", "BBB", "CLBBB",
                    "LBBB", "CRBBB", "RBBB", "IRBBB", "ILBBB", "LAnFB", "LPFB", "NSIVCB", "DIB",
                    "WPW", "VPEx")
"""Conduction disturbances (binary task ``CD``): AV blocks, bundle-branch and fascicular blocks,
intraventricular conduction delay and pre-excitation — the challenge's counterparts of the
PTB-XL CD subclasses (_AVB, CLBBB, CRBBB, ILBBB, IRBBB, LAFB/LPFB, IVCD, WPW)."""

SOURCES = (("HR", "PTB-XL"), ("JS", None), ("A", "CPSC"), ("Q", "CPSC-Extra"), ("I", "INCART"),
           ("S", "PTB"), ("E", "Georgia"))


@lru_cache(maxsize=1)
def snomed_table() -> pd.DataFrame:
    """The challenge's SNOMED mapping (code -> name, abbreviation, scored flag), code as str index."""
    parts = []
    for fname, scored in (("dx_mapping_scored.csv", True), ("dx_mapping_unscored.csv", False)):
        with resources.files("ecgfoundry.data").joinpath(fname).open("r") as fh:
            t = pd.read_csv(fh, dtype={"SNOMEDCTCode": str})
        t = t[["Dx", "SNOMEDCTCode", "Abbreviation"]].assign(scored=scored)
        parts.append(t)
    table = pd.concat(parts).rename(columns={"Dx": "name", "SNOMEDCTCode": "code", "Abbreviation": "abbreviation"})
    return table.drop_duplicates("code").set_index("code")


_FOLDER_SOURCES = {"cpsc_2018": "CPSC", "cpsc_2018_extra": "CPSC-Extra", "st_petersburg_incart": "INCART",
                   "ptb": "PTB", "ptb-xl": "PTB-XL", "georgia": "Georgia",
                   "chapman_shaoxing": "Chapman-Shaoxing", "ningbo": "Ningbo"}


def source_of(record_name: str, folder_parts: tuple[str, ...] = ()) -> str:
    """Challenge source of a record: from the official folder name when the record sits in one
    (``training/ningbo/g1/...``), else from its name prefix (``"unknown"`` when not recognised)."""
    for part in reversed(folder_parts):
        key = part.lower().replace("wfdb_", "")
        if key in _FOLDER_SOURCES:
            return _FOLDER_SOURCES[key]
    for prefix, source in SOURCES:
        if record_name.startswith(prefix):
            if prefix == "JS":
                digits = re.sub(r"\D", "", record_name)
                return "Ningbo" if digits and int(digits) >= 10647 else "Chapman-Shaoxing"
            return source  # type: ignore[return-value]
    return "unknown"


def _comments(hea: Path) -> dict[str, str]:
    try:
        text = hea.read_text(errors="replace")
    except OSError as exc:
        raise EcgDataError(hea, None, f"cannot read header ({exc.strerror})") from None
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#") and ":" in line:
            key, value = line[1:].split(":", 1)
            out[key.strip().lower()] = value.strip()
    return out


def build_label_sets(codes_seen: set[str]) -> tuple[dict[str, LabelSet], list[str]]:
    """``scored`` (merged equivalences), ``all`` (every code seen), ``AF``, ``CD``; plus notes on
    codes the mapping tables do not name."""
    table = snomed_table()
    notes = []

    def name(code: str) -> str:
        canon = EQUIVALENT.get(code, code)
        if canon in _MERGED_NAMES:
            return _MERGED_NAMES[canon]
        return str(table.loc[code, "abbreviation"]) if code in table.index else code

    scored_codes = [c for c in table.index if table.loc[c, "scored"]]
    scored_classes = tuple(sorted({name(c) for c in scored_codes}))
    sets = {"scored": LabelSet("scored", scored_classes, {c: (name(c),) for c in scored_codes},
                               f"{len(scored_classes)} scored challenge classes, equivalent codes merged")}
    unknown = sorted(c for c in codes_seen if c not in table.index)
    if unknown:
        notes.append(f"{len(unknown)} SNOMED code(s) not in the challenge mapping tables, kept as their "
                     f"code: {', '.join(unknown[:20])}")
    all_codes = sorted(codes_seen)
    all_classes = tuple(sorted({name(c) for c in all_codes}))
    sets["all"] = LabelSet("all", all_classes, {c: (name(c),) for c in all_codes},
                           "every diagnosis present in the dataset (equivalences merged)")
    sets["AF"] = LabelSet("AF", ("AF",), {AF_CODE: ("AF",)}, "atrial fibrillation (SNOMED 164889003)")
    cd_codes = [c for c in table.index if table.loc[c, "abbreviation"] in CD_ABBREVIATIONS]
    sets["CD"] = LabelSet("CD", ("CD",), {c: ("CD",) for c in cd_codes},
                          "conduction disturbance: " + ", ".join(CD_ABBREVIATIONS))
    return sets, notes


class Challenge(RecordSource):
    """A folder (searched recursively) of PhysioNet/CinC 2020-2021 challenge records.

    Parameters
    ----------
    root : str or Path
        Folder holding ``*.hea`` + ``*.mat`` pairs, directly or in sub-folders per source.
    seed : int
        Seed of the hashed 80/10/10 train/val/test split (the challenge gives no patient ids, so
        records are split individually).
    fractions : tuple of float
        Train, validation and test fractions.
    errors : {"skip", "raise"}
        A record whose header has a missing, empty or malformed ``# Dx`` is left out and listed
        in :attr:`row_problems` (default), or stops the opening (``"raise"``). Repeated codes in
        one ``# Dx`` count once.

    Notes
    -----
    Signals are read from ``val`` of the ``.mat`` file and checked against the header (signal
    count, orientation, sample count); record lines written with the file extension
    (``E07520.mat 12 500 5000 ...``, the original Georgia release) are accepted.
    """

    name = "cinc2021"
    default_label_set = "scored"
    inspect_label_set = "all"

    def __init__(self, root: str | Path, seed: int = 0, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
                 errors: str = "skip"):
        super().__init__(root, errors=errors)
        self.notes: list[str] = []
        headers = sorted(self.root.rglob("*.hea"))
        if not headers:
            raise EcgDataError(self.root, None, "no challenge records (*.hea) found")
        rows = []
        for hea in headers:
            try:
                rows.append(self._parse_header(hea))
            except EcgDataError as exc:
                self._row_fault(hea.stem, exc)
        if not rows:
            raise EcgDataError(self.root, None, "no usable challenge record: " + "; ".join(
                p.message for p in self.row_problems[:5]))
        table = pd.DataFrame(rows)
        table["split"] = group_splits(table["record_id"].tolist(), fractions, seed)
        self.table = table
        self.label_sets, notes = build_label_sets({c for cs in self.table["codes"] for c in cs})
        self.notes += notes

    def _parse_header(self, hea: Path) -> dict:
        """One record's table row from its header comments; raises for a missing, empty or bad
        ``# Dx`` (a record is never loaded as silently unlabelled)."""
        c = _comments(hea)
        if "dx" not in c:
            raise EcgDataError(hea, "# Dx", "no '# Dx' line: the record has no labels")
        codes = tuple(dict.fromkeys(x.strip() for x in c["dx"].split(",") if x.strip()))
        if not codes:
            raise EcgDataError(hea, "# Dx", "empty: the record has no labels")
        bad = [x for x in codes if not x.isdigit()]
        if bad:
            raise EcgDataError(hea, "# Dx", f"not SNOMED-CT codes: {bad}")
        return {"record_id": hea.stem, "patient_id": None, "codes": codes, "text": None,
                "path": str(hea), "age": parse_age(c.get("age")), "sex": parse_sex(c.get("sex")),
                "source": source_of(hea.stem, hea.relative_to(self.root).parts[:-1])}

    def describe_class(self, label_set: str, cls: str) -> str:
        """Full name and SNOMED code(s) of a class of a label set."""
        ls = self.get_label_set(label_set)
        codes = sorted(c for c, targets in ls.mapping.items() if cls in targets)
        if len(codes) > 3:
            return f"{len(codes)} SNOMED codes"
        names = " / ".join(dict.fromkeys(self.describe_code(c) for c in codes))
        return f"{names} ({', '.join(codes)})" if codes else cls

    def describe_code(self, code: str) -> str:
        """Full name of a SNOMED code (``"atrial fibrillation"``), or the code when unknown."""
        table = snomed_table()
        return str(table.loc[code, "name"]) if code in table.index else code

    def _read_row(self, row: pd.Series) -> EcgRecord:
        hea = Path(row["path"])
        signal, observed, fs, extra = read_wfdb_canonical(hea)
        return EcgRecord(signal, observed, float(fs), str(row["record_id"]), self.name,
                         labels=tuple(row["codes"]), meta={"age": row["age"], "sex": row["sex"],
                                                          "source": row["source"], "path": str(hea),
                                                          **extra})

    def header_info(self, index: int) -> HeaderInfo:
        """fs, length and leads from the ``.hea`` alone (a read when it gives no sample count)."""
        info = wfdb_header_info(Path(self.table.iloc[int(index)]["path"]))
        return info if info.n_samples >= 0 else super().header_info(index)
