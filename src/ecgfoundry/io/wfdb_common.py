"""Reading WFDB records (``.hea`` + signal files) safely: every foreseeable problem with a file
becomes an :class:`~ecgfoundry.errors.EcgDataError` that names the file and the field.

Shared by the readers of WFDB-based datasets (PTB-XL, MIMIC-IV-ECG, generic WFDB folders).
The header's record line is checked here before :mod:`wfdb` sees it, because ``wfdb`` silently
assumes 250 Hz when a header has no sampling rate.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgfoundry.errors import EcgDataError
from ecgfoundry.io.base import place_leads

# physical unit (lower case, as written after "/" in a signal line) -> factor to millivolts
UNIT_TO_MV: dict[str, float] = {
    "mv": 1.0, "millivolt": 1.0, "millivolts": 1.0,
    "uv": 1e-3, "\u00b5v": 1e-3, "\u03bcv": 1e-3, "microvolt": 1e-3, "microvolts": 1e-3,
    "v": 1e3, "volt": 1e3, "volts": 1e3,
    "nv": 1e-6,
}

# bytes per sample of the fixed-width WFDB storage formats (for the truncation check)
_BYTES_PER_SAMPLE: dict[str, float] = {
    "8": 1, "80": 1, "16": 2, "61": 2, "160": 2, "24": 3, "32": 4, "212": 1.5, "310": 4 / 3,
    "311": 4 / 3,
}
_KNOWN_FORMATS = set(_BYTES_PER_SAMPLE) | {"0", "508", "516", "524"}
_FORMAT_FIELD = re.compile(r"^(\d+)(?:x(\d+))?(?::(-?\d+))?(?:\+(\d+))?$")


@dataclass(frozen=True)
class WfdbHeader:
    """What a WFDB header says about a record, checked.

    Attributes
    ----------
    path : Path
        The ``.hea`` file.
    fs : float
        Sampling rate in Hz (from the record line; never a library default).
    n_samples : int or None
        Samples per signal; None when the header leaves it out (then the signal file decides).
    lead_names : tuple of str
        Signal descriptions, in file column order.
    units : tuple of str
        Physical unit of each signal (``"mV"`` when the header gives none, the WFDB default).
    files : tuple of Path
        Distinct signal files, in order of first use.
    layout : tuple of (Path, str, int, int)
        Per signal file: storage format, samples per frame (all its signals), byte offset.
    """

    path: Path
    fs: float
    n_samples: int | None
    lead_names: tuple[str, ...]
    units: tuple[str, ...]
    files: tuple[Path, ...]
    layout: tuple[tuple[Path, str, int, int], ...] = ()


def _record_base(path: str | Path) -> Path:
    """Record path without extension (accepts ``rec``, ``rec.hea`` or ``rec.dat``)."""
    p = Path(path)
    if p.suffix.lower() in {".hea", ".dat", ".mat"}:
        p = p.with_suffix("")
    return p


def _parse_number(text: str) -> float:
    """``"500"``, ``"500/1"``, ``"500(0)"`` -> 500.0 (frequency fields of a record line)."""
    head = text.split("/", 1)[0].split("(", 1)[0]
    return float(head)


def _header_lines(hea: Path) -> list[str]:
    try:
        raw = hea.read_bytes()
    except FileNotFoundError:
        raise EcgDataError(hea, None, "missing header (no such .hea file)") from None
    except OSError as exc:
        raise EcgDataError(hea, None, f"cannot read header ({exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    if "\x00" in text:
        raise EcgDataError(hea, None, "corrupt header (binary content in a text file)")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]


def read_wfdb_header(path: str | Path) -> WfdbHeader:
    """Read and check a WFDB header without reading any samples.

    Parameters
    ----------
    path : str or Path
        Record path, with or without the ``.hea`` extension.

    Returns
    -------
    WfdbHeader

    Raises
    ------
    EcgDataError
        Missing or corrupt header, no or impossible sampling rate, a wrong signal count or sample
        count, an unknown storage format or gain, or no lead names; the error names the ``.hea``
        and the field.
    """
    base = _record_base(path)
    hea = base.with_suffix(".hea")
    lines = _header_lines(hea)
    if not lines:
        raise EcgDataError(hea, "record line", "empty header (no record line)")
    fields = lines[0].split()
    if len(fields) < 2:
        raise EcgDataError(hea, "number of signals", f"record line {lines[0]!r} has no signal count")
    multi_segment = "/" in fields[0]
    try:
        nsig = int(fields[1])
    except ValueError:
        raise EcgDataError(hea, "number of signals", f"not an integer: {fields[1]!r}") from None
    if nsig <= 0:
        raise EcgDataError(hea, "number of signals", f"must be positive, got {nsig}")
    if len(fields) < 3:
        raise EcgDataError(hea, "sampling rate", "header has no sampling rate (record line "
                           f"{lines[0]!r}); refusing to assume a default")
    try:
        fs = _parse_number(fields[2])
    except ValueError:
        raise EcgDataError(hea, "sampling rate", f"not a number: {fields[2]!r}") from None
    if not math.isfinite(fs) or fs <= 0:
        raise EcgDataError(hea, "sampling rate", f"must be a positive number, got {fields[2]!r}")
    n_samples: int | None = None
    if len(fields) >= 4:
        try:
            n_samples = int(fields[3])
        except ValueError:
            raise EcgDataError(hea, "number of samples", f"not an integer: {fields[3]!r}") from None
        if n_samples < 0:
            raise EcgDataError(hea, "number of samples", f"must not be negative, got {n_samples}")
    if multi_segment:
        # segment lines, not signal lines: let wfdb resolve the layout when reading
        return WfdbHeader(hea, fs, n_samples, (), (), ())

    sig_lines = lines[1:1 + nsig]
    if len(sig_lines) != nsig:
        raise EcgDataError(hea, "number of signals", f"record line says {nsig} signals but the "
                           f"header has {len(sig_lines)} signal line(s)")
    names, units, files = [], [], []
    layout: dict[Path, tuple[str, int, int]] = {}
    for k, line in enumerate(sig_lines, start=1):
        parts = line.split(maxsplit=8)
        if len(parts) < 2:
            raise EcgDataError(hea, f"signal {k}: format", f"signal line {line!r} has no storage format")
        m = _FORMAT_FIELD.match(parts[1])
        if m is None or m.group(1) not in _KNOWN_FORMATS:
            raise EcgDataError(hea, f"signal {k}: format", f"unknown WFDB storage format {parts[1]!r}")
        fmt, spf, offset = m.group(1), int(m.group(2) or 1), int(m.group(4) or 0)
        if spf < 1:
            raise EcgDataError(hea, f"signal {k}: format", f"samples per frame must be >= 1 in {parts[1]!r}")
        unit = "mV"
        if len(parts) >= 3:
            gain_field = parts[2]
            if "/" in gain_field:
                gain_field, unit = gain_field.split("/", 1)
            try:
                gain = float(gain_field.split("(", 1)[0])
            except ValueError:
                raise EcgDataError(hea, f"signal {k}: gain", f"not a number: {parts[2]!r}") from None
            if not math.isfinite(gain) or gain < 0:
                raise EcgDataError(hea, f"signal {k}: gain", f"impossible ADC gain {parts[2]!r}")
        if len(parts) < 9:
            raise EcgDataError(hea, f"signal {k}: description", f"signal line {line!r} has no lead "
                               "name (description field)")
        names.append(parts[8].strip())
        units.append(unit)
        f = hea.parent / parts[0]
        if f not in files:
            files.append(f)
            layout[f] = (fmt, spf, offset)
        else:
            old_fmt, old_spf, old_off = layout[f]
            layout[f] = (old_fmt if old_fmt == fmt else "?", old_spf + spf, old_off)
    return WfdbHeader(hea, fs, n_samples, tuple(names), tuple(units), tuple(files),
                      tuple((f, *layout[f]) for f in files))


def unit_factor(unit: str, path: str | Path, lead: str) -> float:
    """Factor that converts a WFDB physical unit to millivolts.

    Known: mV, uV / µV / μV, V, nV (case-insensitive). An empty unit is the WFDB default, mV.
    Any other unit (``"NU"``, ``"mmHg"``, ...) is an error: guessing would give silently wrong
    amplitudes.
    """
    key = (unit or "mV").strip().lower()
    if key not in UNIT_TO_MV:
        raise EcgDataError(path, f"units of lead {lead}", f"unknown physical unit {unit!r}; "
                           "expected mV, uV or V")
    return UNIT_TO_MV[key]


def _check_signal_files(header: WfdbHeader) -> None:
    """Every signal file exists and holds at least the samples the header promises."""
    for f, fmt, n_chan, offset in header.layout:
        if fmt == "0":  # null signal: no samples stored
            continue
        if not f.exists():
            raise EcgDataError(f, "signal file", f"missing signal file (named in {header.path.name})")
        bps = _BYTES_PER_SAMPLE.get(fmt)
        if header.n_samples is None or bps is None:
            continue
        expected = offset + math.ceil(header.n_samples * n_chan * bps - 1e-9)
        got = f.stat().st_size
        if got < expected:
            got_samples = int(max(got - offset, 0) // (n_chan * bps))
            raise EcgDataError(f, "samples", f"truncated signal file: header {header.path.name} says "
                               f"{header.n_samples} samples x {n_chan} signals ({expected} bytes), "
                               f"file has {got} bytes (about {got_samples} samples)")


def read_wfdb(path: str | Path) -> tuple[np.ndarray, tuple[str, ...], float]:
    """Read a WFDB record as millivolts.

    Parameters
    ----------
    path : str or Path
        Record path, with or without the ``.hea`` extension.

    Returns
    -------
    data : ndarray of shape (T, L), float64, millivolts
        One column per signal in file order; NaN where the file marks a sample invalid (pass the
        result through :func:`ecgfoundry.io.base.place_leads`, which makes those unobserved).
    lead_names : tuple of str
        The header's signal descriptions, in column order.
    fs : float
        Sampling rate in Hz, from the header's record line.

    Raises
    ------
    EcgDataError
        Missing / corrupt header (names the ``.hea``), missing or truncated signal file (names the
        ``.dat`` and says expected vs got), unknown unit (names the ``.hea`` and the lead).
    """
    header = read_wfdb_header(path)
    base = _record_base(path)
    hea = header.path
    _check_signal_files(header)
    try:
        import wfdb

        rec = wfdb.rdrecord(str(base), physical=True)
    except EcgDataError:
        raise
    except Exception as exc:
        target = header.files[0] if len(header.files) == 1 else hea
        raise EcgDataError(target, "samples", f"unreadable record ({type(exc).__name__}: {exc})") from None
    data = rec.p_signal
    if data is None:
        raise EcgDataError(hea, "samples", "record has no signals")
    data = np.asarray(data, dtype=np.float64)
    if header.n_samples is not None and data.shape[0] != header.n_samples:
        target = header.files[0] if header.files else hea
        raise EcgDataError(target, "samples", f"truncated signal file: header says {header.n_samples} "
                           f"samples, got {data.shape[0]}")
    names = tuple(str(n) for n in (rec.sig_name or ()))
    if len(names) != data.shape[1]:
        raise EcgDataError(hea, "lead names", f"{len(names)} lead names for {data.shape[1]} signals")
    units = rec.units or ["mV"] * len(names)
    factors = np.array([unit_factor(u, hea, n) for u, n in zip(units, names)])
    return data * factors[None, :], names, header.fs


def read_wfdb_record(path: str | Path) -> tuple[np.ndarray, np.ndarray, float]:
    """Read a WFDB record in canonical form.

    Returns
    -------
    signal : ndarray (12, T) float32, millivolts
    observed : ndarray (12, T) bool
        Absent, invalid (NaN) and all-zero leads are False.
    fs : float, Hz
    """
    data, names, fs = read_wfdb(path)
    signal, observed = place_leads(data, names, _record_base(path).with_suffix(".hea"))
    return signal, observed, fs
