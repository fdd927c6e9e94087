"""The metadata tables (CSV) of a dataset: reading them with errors that name the file and the
column, and patient-wise splits for sources without folds."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ecgfoundry.datasets.splits import group_splits
from ecgfoundry.errors import EcgDataError


def is_blank(value) -> bool:
    """True for None, NaN and strings that are empty after stripping."""
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    try:
        if pd.isna(value):
            return True
    except (TypeError, ValueError):
        pass
    return isinstance(value, str) and not value.strip()


def clean_str(value) -> str | None:
    """Stripped string, or None when blank. Integral floats lose their ``.0`` (``12.0 -> "12"``)."""
    if is_blank(value):
        return None
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def parse_integer(value, path: str | Path, field: str) -> int:
    """``value`` as an int (``3``, ``"3"``, ``3.0``); otherwise an :class:`EcgDataError` naming the file and
    the field ("blank" or "not an integer: ...")."""
    try:
        num = float(value)
        if not num.is_integer():
            raise ValueError
    except (TypeError, ValueError):
        raise EcgDataError(path, field, "blank" if is_blank(value) else f"not an integer: {value!r}") from None
    return int(num)


def read_table(path: str | Path, required: Sequence[str] = (), dtype: Mapping[str, type] | None = None,
               allow_empty: bool = False) -> pd.DataFrame:
    """Read a CSV, with an :class:`EcgDataError` naming the file (and column) for every problem.

    Parameters
    ----------
    path : str or Path
        The CSV file.
    required : sequence of str
        Columns that must be present.
    dtype : mapping, optional
        Passed to :func:`pandas.read_csv` (identifiers are best read as ``str``).
    allow_empty : bool
        Whether a table without rows is acceptable.

    Raises
    ------
    EcgDataError
        Missing file, unreadable CSV, missing required column(s), no rows.
    """
    path = Path(path)
    if not path.exists():
        folder = path.parent
        if folder.is_dir() and not any(folder.iterdir()):
            raise EcgDataError(folder, None, f"the folder is empty (expected {path.name})")
        raise EcgDataError(path, None, "missing file")
    try:
        df = pd.read_csv(path, dtype=dict(dtype) if dtype else None, keep_default_na=True)
    except pd.errors.EmptyDataError:
        raise EcgDataError(path, None, "empty file (no header row)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise EcgDataError(path, None, f"unreadable CSV ({type(exc).__name__}: {exc})") from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise EcgDataError(path, ", ".join(missing), f"required column(s) missing; the file has "
                           f"columns {', '.join(map(str, df.columns))}")
    if len(df) == 0 and not allow_empty:
        raise EcgDataError(path, None, "no rows (no records)")
    return df


def patient_splits(patient_ids: Sequence[str | None], record_ids: Sequence[str], seed: int = 0,
                   fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> np.ndarray:
    """Train / val / test by patient (hashed, see :func:`~ecgfoundry.datasets.splits.group_splits`);
    a record without a patient id is its own group."""
    groups = [f"patient:{p}" if p is not None else f"record:{r}" for p, r in zip(patient_ids, record_ids)]
    return group_splits(groups, fractions=fractions, seed=seed)
