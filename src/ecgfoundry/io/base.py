"""What every reader shares: the record table, label sets, canonical lead placement, and
reading a whole dataset with a summary of every skipped file."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from ecgfoundry.batch import EcgRecord
from ecgfoundry.errors import EcgDataError
from ecgfoundry.signals.leads import LEADS, canonical_lead_name, lead_permutation

log = logging.getLogger("ecgfoundry.io")

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class LabelSet:
    """A named, ordered class list and how the source's codes map onto it.

    Attributes
    ----------
    name : str
        E.g. ``"superdiagnostic"``, ``"AF"``.
    classes : tuple of str
        Ordered class names (the columns of the multi-hot matrix).
    mapping : Mapping of str -> tuple of str
        Source code -> the classes it turns on. Codes absent from the mapping turn on nothing.
    description : str
        One line saying where the classes come from.
    """

    name: str
    classes: tuple[str, ...]
    mapping: Mapping[str, tuple[str, ...]]
    description: str = ""

    def __post_init__(self) -> None:
        known = set(self.classes)
        for code, targets in self.mapping.items():
            bad = [t for t in targets if t not in known]
            if bad:
                raise ValueError(f"label set {self.name}: code {code!r} maps to unknown classes {bad}")

    def encode(self, codes_per_record: Sequence[Sequence[str]]) -> np.ndarray:
        """Multi-hot ``(N, K)`` float32 matrix for lists of source codes."""
        col = {c: j for j, c in enumerate(self.classes)}
        out = np.zeros((len(codes_per_record), len(self.classes)), dtype=np.float32)
        for i, codes in enumerate(codes_per_record):
            for code in codes:
                for cls in self.mapping.get(code, ()):
                    out[i, col[cls]] = 1.0
        return out


@dataclass(frozen=True)
class ReadProblem:
    """A record that could not be read, or a table row that was skipped: which, where, and why.

    Attributes
    ----------
    record_id : str
        The record (or the row's identifier as written, ``"line 7"`` when it has none).
    path : str
        The file that holds the problem (the table for a row fault).
    message : str
        The full error: file, field and reason.
    stage : {"read", "table"}
        ``"table"``: the dataset's index row was skipped when the dataset was opened;
        ``"read"``: the record's files could not be read.
    """

    record_id: str
    path: str
    message: str
    stage: str = "read"


FRANK_LEADS = frozenset({"VX", "VY", "VZ", "X", "Y", "Z"})
"""Frank orthogonal leads (PTB Diagnostic stores them after the 12 standard leads)."""

ERRORS = ("skip", "raise")


def _lead_key(name: str) -> str:
    return "".join(str(name).split()).upper()


def plan_leads(lead_names: Sequence[str], path: str | Path, field: str = "lead names"
               ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Where each of a file's channels goes in the canonical 12-lead order.

    Channels that are not one of the 12 standard leads are dropped when that cannot mislabel
    anything: Frank leads (vx, vy, vz, X, Y, Z) always, any other channel when the record already
    holds all 12 standard leads (PTB Diagnostic: 12 leads + Frank; a recorder's extra channel).
    Any other unknown name is an error: in a record with fewer than 12 standard leads it may be a
    misspelt standard lead.

    Returns
    -------
    src, dst : ndarray of int
        ``out[dst] = data[src]`` puts every standard lead in its canonical row.
    dropped : tuple of str
        The names of the dropped channels, in file order.

    Raises
    ------
    EcgDataError
        An unknown channel name (as above), a lead given twice, or no standard lead at all.
    """
    canon = [canonical_lead_name(n) for n in lead_names]
    standard = {c for c in canon if c is not None}
    dropped = []
    for name, c in zip(lead_names, canon):
        if c is None:
            if _lead_key(name) in FRANK_LEADS or len(standard) == len(LEADS):
                dropped.append(str(name))
            else:
                raise EcgDataError(path, field, f"unknown lead name {str(name)!r}; expected one of "
                                   f"{', '.join(LEADS)} (or Frank leads vx, vy, vz)")
    keep = [i for i, c in enumerate(canon) if c is not None]
    if not keep:
        raise EcgDataError(path, field, f"none of the channels ({', '.join(map(str, lead_names))}) is "
                           f"one of the 12 standard leads")
    try:
        src, dst = lead_permutation([lead_names[i] for i in keep])
    except ValueError as exc:
        raise EcgDataError(path, field, str(exc)) from None
    return np.asarray(keep, dtype=int)[src], dst, tuple(dropped)


def library_error_sentence(exc: BaseException) -> str:
    """A sentence for an error raised inside a library (wfdb, scipy, h5py) while reading a file."""
    if isinstance(exc, FileNotFoundError):
        return f"missing file ({exc.filename or exc})"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, OSError):
        return f"cannot be read ({exc.strerror or exc})"
    return (f"malformed file: the reader library failed on it ({type(exc).__name__}: {exc}); check "
            "that its header and data agree and follow the format")


def place_leads(data: np.ndarray, lead_names: Sequence[str], path: str | Path,
                field: str = "lead names") -> tuple[np.ndarray, np.ndarray]:
    """Put a ``(T, L)`` or ``(L, T)``-agnostic column array into canonical ``(12, T)`` form.

    Parameters
    ----------
    data : ndarray of shape (T, L)
        Samples in millivolts, one column per lead named in ``lead_names``.
    lead_names : sequence of str
        The file's own lead names, in column order.
    path : str or Path
        The file, for error messages.

    Returns
    -------
    signal : ndarray (12, T) float32, observed : ndarray (12, T) bool
        Leads matched by name (extra channels dropped as :func:`plan_leads` says); absent leads,
        NaN/inf samples and leads that are exactly zero for the whole record are unobserved (and
        zero in ``signal``).
    """
    data = np.asarray(data)
    if data.ndim != 2 or data.shape[1] != len(lead_names):
        raise EcgDataError(path, field, f"{len(lead_names)} lead names for data of shape {data.shape}")
    src, dst, _ = plan_leads(list(lead_names), path, field)
    n = data.shape[0]
    signal = np.zeros((len(LEADS), n), dtype=np.float32)
    observed = np.zeros((len(LEADS), n), dtype=bool)
    cols = data[:, src].T.astype(np.float32)
    finite = np.isfinite(cols)
    signal[dst] = np.where(finite, cols, 0.0)
    observed[dst] = finite
    flat = ~np.any(signal != 0, axis=1)  # exactly zero for the whole record: unobserved
    observed[flat] = False
    return signal, observed


def parse_sex(value) -> str | None:
    """Normalise sex codes to ``"M"`` / ``"F"`` / None (PTB-XL: 0 = male, 1 = female)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    s = str(value).strip().lower()
    if s in {"m", "male", "0", "0.0", "man"}:
        return "M"
    if s in {"f", "female", "1", "1.0", "woman"}:
        return "F"
    return None


def parse_age(value) -> float:
    """Age in years as float; NaN when unknown (PTB-XL encodes ages over 89 as 300)."""
    try:
        age = float(value)
    except (TypeError, ValueError):
        return float("nan")
    if not np.isfinite(age) or age < 0:
        return float("nan")
    if age >= 300:
        return 90.0
    return age


@dataclass(frozen=True)
class HeaderInfo:
    """What a record's header (or cheapest readable part) says, without reading its samples.

    Attributes
    ----------
    fs : float
        Sampling rate in Hz.
    n_samples : int
        Samples per lead.
    leads : tuple of str
        The standard leads the file holds (canonical names, canonical order).
    dropped : tuple of str
        Extra channels the reader drops (Frank leads, ...).
    notes : tuple of str
        Harmless oddities of the header, in words that do not name the record (they are counted
        over a dataset).
    """

    fs: float
    n_samples: int
    leads: tuple[str, ...] = LEADS
    dropped: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


class RecordSource:
    """A dataset on disk: a table of records plus a way to read each one.

    Subclasses fill ``self.table`` (one row per record, columns ``record_id``, ``patient_id``,
    ``split``, ``codes`` (tuple of source label codes), ``text``, ``path`` and any metadata such
    as ``age``, ``sex``, ``fold``), ``self.label_sets`` and implement :meth:`_read_row`.

    Parameters
    ----------
    root : str or Path
        The dataset folder.
    errors : {"skip", "raise"}
        What a bad row of the dataset's index table does: ``"skip"`` (default) leaves the row out
        and lists it in :attr:`row_problems` (file, field, reason), so one bad row never loses the
        rest of the dataset; ``"raise"`` stops at that row with its :class:`EcgDataError`.
    """

    name: str = "dataset"
    default_label_set: str = "all"

    def __init__(self, root: str | Path, errors: str = "skip"):
        self.root = Path(root)
        if errors not in ERRORS:
            raise ValueError(f"errors must be one of {ERRORS}, got {errors!r}")
        if not self.root.exists():
            raise EcgDataError(self.root, None, "no such file or folder")
        self.errors = errors
        self.table: pd.DataFrame = pd.DataFrame()
        self.label_sets: dict[str, LabelSet] = {}
        self.problems: list[ReadProblem] = []
        self.row_problems: list[ReadProblem] = []

    def _row_fault(self, record_id, error: EcgDataError) -> None:
        """A bad row of the index table: raise it (``errors="raise"``) or note it and go on."""
        if self.errors == "raise":
            raise error
        prob = ReadProblem(str(record_id), str(error.path or ""), str(error), stage="table")
        self.row_problems.append(prob)
        log.warning("skipped row %s: %s", prob.record_id, prob.message)

    def _duplicated_ids(self, lines: dict[str, list[int]], path, column: str, what: str = "record") -> set[str]:
        """Ids listed on more than one line of the index table (``lines``: id -> its line numbers). Each
        is reported once as a row fault naming the lines, and every row of it is to be left out: which
        of them is right cannot be told. Returns the set of such ids."""
        dup = {k: v for k, v in lines.items() if len(v) > 1}
        for rid, where in dup.items():
            self._row_fault(rid, EcgDataError(path, f"lines {', '.join(map(str, where))}: {column}",
                                              f"{what} {rid} is listed {len(where)} times; all its rows are left out"))
        return set(dup)

    # --- table ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, records={len(self)})"

    def labels(self, label_set: str | None = None) -> tuple[np.ndarray, tuple[str, ...]]:
        """Multi-hot labels ``(N, K)`` for every record and the class names."""
        ls = self.get_label_set(label_set)
        return ls.encode(list(self.table["codes"])), ls.classes

    def get_label_set(self, label_set: str | None = None) -> LabelSet:
        name = label_set or self.default_label_set
        if name not in self.label_sets:
            raise KeyError(f"{self.name}: unknown label set {name!r}; available: "
                           f"{', '.join(self.label_sets)}")
        return self.label_sets[name]

    def split_indices(self, split: str) -> np.ndarray:
        """Row indices of ``"train"``, ``"val"`` or ``"test"``."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return np.flatnonzero(self.table["split"].to_numpy() == split)

    # --- reading -------------------------------------------------------------------------
    def read(self, index: int | str) -> EcgRecord:
        """Read one record by row position or ``record_id``; raises :class:`EcgDataError`."""
        if isinstance(index, str):
            hits = np.flatnonzero(self.table["record_id"].to_numpy() == index)
            if len(hits) == 0:
                raise KeyError(f"{self.name}: no record {index!r}")
            index = int(hits[0])
        row = self.table.iloc[int(index)]
        return self._read_checked(row)

    def _read_checked(self, row: pd.Series) -> EcgRecord:
        """:meth:`_read_row`, with any error raised inside a library turned into an
        :class:`EcgDataError` that names the file and says what is wrong with it."""
        try:
            return self._read_row(row)
        except EcgDataError:
            raise
        except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise EcgDataError(row.get("path"), None, library_error_sentence(exc)) from exc

    def _read_row(self, row: pd.Series) -> EcgRecord:  # pragma: no cover - abstract
        raise NotImplementedError

    def header(self, index: int) -> tuple[float, int]:
        """``(fs, n_samples)`` of one record, cheaply where the format allows (default: read it)."""
        info = self.header_info(index)
        return info.fs, info.n_samples

    def header_info(self, index: int) -> HeaderInfo:
        """:class:`HeaderInfo` of one record: fs, length and leads, checked as a read would check
        them, without reading samples where the format allows (default: read the record)."""
        rec = self.read(index)
        leads = tuple(ld for ld, obs in zip(LEADS, rec.observed.any(axis=1)) if obs)
        return HeaderInfo(rec.fs, rec.n_samples, leads, tuple(rec.meta.get("dropped_channels", ())))

    def iter_records(self, indices: Sequence[int] | None = None, errors: str = "skip",
                     progress: bool = True, description: str | None = None
                     ) -> Iterator[tuple[int, EcgRecord]]:
        """Read many records, yielding ``(row, record)``.

        Parameters
        ----------
        errors : {"skip", "raise"}
            ``"skip"`` (default) records every unreadable file in ``self.problems`` and goes on;
            the caller prints :meth:`problem_summary`. ``"raise"`` stops at the first bad file.
        """
        if errors not in {"skip", "raise"}:
            raise ValueError("errors must be 'skip' or 'raise'")
        from ecgfoundry.progress import track

        rows = range(len(self)) if indices is None else indices
        for i in track(rows, description or f"reading {self.name}", enabled=progress):
            row = self.table.iloc[int(i)]
            try:
                rec = self._read_checked(row)
            except EcgDataError as exc:
                if errors == "raise":
                    raise
                self._skip(row, str(exc))
                continue
            yield int(i), rec

    def _skip(self, row: pd.Series, message: str) -> None:
        prob = ReadProblem(str(row["record_id"]), str(row.get("path", "")), message)
        self.problems.append(prob)
        log.warning("skipped %s: %s", prob.record_id, prob.message)

    def problem_summary(self) -> str:
        """Human-readable summary of every skipped table row and record (empty string when none)."""
        lines = []
        if self.row_problems:
            lines.append(f"{len(self.row_problems)} table row(s) of {self.name} skipped:")
            lines += [f"  - {p.record_id}: {p.message}" for p in self.row_problems]
        if self.problems:
            lines.append(f"{len(self.problems)} record(s) of {self.name} skipped:")
            lines += [f"  - {p.record_id}: {p.message}" for p in self.problems]
        return "\n".join(lines)
