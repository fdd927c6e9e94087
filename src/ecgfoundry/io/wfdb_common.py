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
from ecgfoundry.io.base import HeaderInfo, place_leads, plan_leads
from ecgfoundry.signals.leads import LEADS

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
_RECORD_NAME = re.compile(r"^[-\w]+$")  # what wfdb accepts as a record name
_FILE_EXTENSIONS = (".mat", ".dat", ".hea")
DEFAULT_GAIN = 200.0
"""WFDB's ADC gain when a signal line leaves the field out."""


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
    gains, baselines : tuple of float
        Per signal: ADC units per physical unit, and the ADC value of 0 physical units.
    record_name : str
        The record name of the record line, without any file extension.
    notes : tuple of str
        Harmless oddities of the header (e.g. a record line written with the file extension).
    """

    path: Path
    fs: float
    n_samples: int | None
    lead_names: tuple[str, ...]
    units: tuple[str, ...]
    files: tuple[Path, ...]
    layout: tuple[tuple[Path, str, int, int], ...] = ()
    gains: tuple[float, ...] = ()
    baselines: tuple[float, ...] = ()
    record_name: str = ""
    notes: tuple[str, ...] = ()

    @property
    def is_mat(self) -> bool:
        """True when the samples are in a MATLAB ``.mat`` file (PhysioNet/CinC challenge layout)."""
        return bool(self.files) and all(f.suffix.lower() == ".mat" for f in self.files)


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


def _header_bytes(hea: Path) -> bytes:
    try:
        return hea.read_bytes()
    except FileNotFoundError:
        raise EcgDataError(hea, None, "missing header (no such .hea file)") from None
    except OSError as exc:
        raise EcgDataError(hea, None, f"cannot read header ({exc})") from None


def _header_lines(hea: Path) -> list[str]:
    raw = _header_bytes(hea)
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
    name = fields[0].split("/", 1)[0]
    notes = []
    name_ext = next((e for e in _FILE_EXTENSIONS if name.lower().endswith(e)), None)
    if name_ext:
        name = name[:-len(name_ext)]
        notes.append(f"record line names the record with its file extension ({name_ext}), as in the "
                     "original Georgia release: read as usual")
    if not _RECORD_NAME.match(name):
        raise EcgDataError(hea, "record line", f"record name {fields[0].split('/', 1)[0]!r} cannot be read "
                           "(letters, digits, '_' and '-' only)")
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
        if name_ext:
            raise EcgDataError(hea, "record line", f"record name {fields[0]!r} carries a file extension")
        # segment lines, not signal lines: let wfdb resolve the layout when reading
        return WfdbHeader(hea, fs, n_samples, (), (), (), record_name=name)

    # every non-comment line after the record line is a signal line (info strings are comments)
    sig_lines = lines[1:]
    if len(sig_lines) != nsig:
        raise EcgDataError(hea, "number of signals", f"record line says {nsig} signals but the "
                           f"header has {len(sig_lines)} signal line(s)")
    names, units, files, gains, baselines = [], [], [], [], []
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
        unit, gain, baseline = "mV", DEFAULT_GAIN, None
        if len(parts) >= 3:
            gain_field = parts[2]
            if "/" in gain_field:
                gain_field, unit = gain_field.split("/", 1)
            if "(" in gain_field:
                gain_field, base_text = gain_field.split("(", 1)
                try:
                    baseline = float(base_text.rstrip(")"))
                except ValueError:
                    raise EcgDataError(hea, f"signal {k}: baseline", f"not a number: {parts[2]!r}") from None
            try:
                gain = float(gain_field)
            except ValueError:
                raise EcgDataError(hea, f"signal {k}: gain", f"not a number: {parts[2]!r}") from None
            if not math.isfinite(gain) or gain < 0:
                raise EcgDataError(hea, f"signal {k}: gain", f"impossible ADC gain {parts[2]!r}")
            if gain == 0:
                raise EcgDataError(hea, f"signal {k}: gain", "ADC gain 0 (an uncalibrated signal): its "
                                   "amplitudes cannot be converted to millivolts")
        if baseline is None:  # WFDB: the baseline defaults to the ADC zero (5th field)
            try:
                baseline = float(parts[4]) if len(parts) >= 5 else 0.0
            except ValueError:
                raise EcgDataError(hea, f"signal {k}: ADC zero", f"not a number: {parts[4]!r}") from None
        if len(parts) < 9:
            raise EcgDataError(hea, f"signal {k}: description", f"signal line {line!r} has no lead "
                               "name (description field)")
        names.append(parts[8].strip())
        units.append(unit)
        gains.append(gain)
        baselines.append(baseline)
        f = hea.parent / parts[0]
        if f not in files:
            files.append(f)
            layout[f] = (fmt, spf, offset)
        else:
            old_fmt, old_spf, old_off = layout[f]
            layout[f] = (old_fmt if old_fmt == fmt else "?", old_spf + spf, old_off)
    header = WfdbHeader(hea, fs, n_samples, tuple(names), tuple(units), tuple(files),
                        tuple((f, *layout[f]) for f in files), tuple(gains), tuple(baselines), name,
                        tuple(notes))
    if name_ext and not header.is_mat:
        raise EcgDataError(hea, "record line", f"record name {fields[0]!r} carries a file extension, which "
                           f"WFDB readers cannot read for {header.files[0].suffix or 'extension-less'} "
                           f"signal files; write {name!r}")
    return header


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
        if header.is_mat:  # a MATLAB container: checked against the header once loaded
            continue
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
        if len(header.layout) == 1 and got > expected + math.ceil(n_chan * bps):
            got_samples = int((got - offset) // (n_chan * bps))
            raise EcgDataError(f, "samples", f"signal file longer than its header says: "
                               f"{header.path.name} says {header.n_samples} samples x {n_chan} signals "
                               f"in format {fmt} ({expected} bytes), the file has {got} bytes (about "
                               f"{got_samples} samples); the header's sample count, signal count or "
                               "storage format is wrong")


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
    if header.is_mat:
        return read_challenge_mat(header), header.lead_names, header.fs
    try:
        import wfdb

        rec = wfdb.rdrecord(str(base), physical=True)
    except EcgDataError:
        raise
    except Exception as exc:
        target = header.files[0] if len(header.files) == 1 else hea
        raise EcgDataError(target, "samples", _wfdb_error_sentence(exc)) from None
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


def _wfdb_error_sentence(exc: BaseException) -> str:
    """What an exception raised inside :mod:`wfdb` says about the file, as a sentence."""
    kind = type(exc).__name__
    if kind == "HeaderSyntaxError":
        return f"the header does not follow the WFDB header syntax ({exc})"
    return (f"the WFDB library could not read this record ({kind}: {exc}); its header and signal "
            "file disagree or the signal file is malformed")


_INVALID_16 = -32768  # WFDB format-16 "invalid sample" code


def read_challenge_mat(header: WfdbHeader) -> np.ndarray:
    """Samples of a PhysioNet/CinC challenge record (``val`` in a ``.mat`` file) in millivolts.

    ``val`` must be a numeric ``(signals, samples)`` array agreeing with the header: as many rows
    as the header declares signals, as many columns as it declares samples. The ADC values become
    millivolts with each signal's gain, baseline and unit from the header. NaN and inf samples, and
    the format-16 invalid-sample code -32768 of an integer ``val``, come back as NaN (unobserved).

    Returns
    -------
    data : ndarray of shape (T, L), float64, millivolts

    Raises
    ------
    EcgDataError
        Corrupt file, no ``val``, a ``val`` that is not numeric, transposed or of another size than
        the header says; the error names the ``.mat`` (or the ``.hea``) and the field.
    """
    import scipy.io

    if len(header.files) != 1:
        raise EcgDataError(header.path, "signal file", f"signals split over {len(header.files)} .mat files; "
                           "a challenge record has one")
    mat_path = header.files[0]
    try:
        mat = scipy.io.loadmat(str(mat_path))
    except NotImplementedError:
        raise EcgDataError(mat_path, None, "MATLAB v7.3 (HDF5) file; challenge records are MATLAB v4/v5 "
                           "files holding 'val'") from None
    except Exception as exc:  # scipy raises ValueError, OSError, TypeError ... on damaged files
        raise EcgDataError(mat_path, None, f"corrupt or truncated .mat file ({type(exc).__name__}: "
                           f"{exc})") from None
    if "val" not in mat:
        names = [k for k in mat if not k.startswith("__")]
        raise EcgDataError(mat_path, "val", f"no 'val' array in the file (variables: "
                           f"{', '.join(names) or 'none'})")
    val = np.asarray(mat["val"])
    if val.dtype.kind not in "iuf" or val.size == 0:
        raise EcgDataError(mat_path, "val", f"expected a numeric signals x samples array, got "
                           f"{val.dtype} of shape {val.shape}")
    nsig = len(header.lead_names)
    if val.ndim == 1 and nsig == 1:
        val = val[None, :]
    n = header.n_samples
    declared = f"{header.path.name} declares {nsig} signals x {n if n is not None else '?'} samples"
    if val.ndim != 2:
        raise EcgDataError(mat_path, "val", f"expected a 2-d signals x samples array, got shape {val.shape}; "
                           + declared)
    if val.shape[0] != nsig:
        if val.shape[1] == nsig and (n is None or val.shape[0] == n):
            raise EcgDataError(mat_path, "val", f"stored transposed: shape {val.shape} is samples x signals, "
                               f"{declared} (expected shape ({nsig}, {val.shape[0]}))")
        raise EcgDataError(mat_path, "val", f"{val.shape[0]} rows (signals) for {nsig} signal lines: {declared}")
    if n is not None and val.shape[1] != n:
        raise EcgDataError(mat_path, "val", f"{val.shape[1]} samples per signal: {declared}")
    data = val.astype(np.float64)
    if val.dtype.kind == "i":
        data[val == _INVALID_16] = np.nan
    data[~np.isfinite(data)] = np.nan
    gains = np.asarray(header.gains, dtype=np.float64)[:, None]
    baselines = np.asarray(header.baselines, dtype=np.float64)[:, None]
    factors = np.array([unit_factor(u, header.path, ld) for u, ld in zip(header.units, header.lead_names)])
    return ((data - baselines) / gains * factors[:, None]).T


def wfdb_header_info(path: str | Path) -> HeaderInfo:
    """:class:`~ecgfoundry.io.base.HeaderInfo` of a WFDB record from its header alone: the checks
    a read makes that need no samples (record line, signal lines, lead names, units, signal files
    present and of the size the header implies).

    The sample count is ``-1`` when the header leaves it out (a read then decides).
    """
    header = read_wfdb_header(path)
    _check_signal_files(header)  # present, and of the size the header implies (a stat, no read)
    n = -1 if header.n_samples is None else header.n_samples
    if not header.lead_names:  # multi-segment: leads are in the segments
        return HeaderInfo(header.fs, n, notes=header.notes)
    for u, ld in zip(header.units, header.lead_names):
        unit_factor(u, header.path, ld)
    _, dst, dropped = plan_leads(header.lead_names, header.path, "signal names")
    leads = tuple(LEADS[i] for i in sorted(dst))
    return HeaderInfo(header.fs, n, leads, dropped, header.notes)


def read_wfdb_canonical(path: str | Path, field: str = "signal names"
                        ) -> tuple[np.ndarray, np.ndarray, float, dict]:
    """Read a WFDB record in canonical form, with what a reader puts in :attr:`EcgRecord.meta`.

    Returns
    -------
    signal : ndarray (12, T) float32, millivolts
    observed : ndarray (12, T) bool
    fs : float, Hz
    meta : dict
        ``n_leads`` (how many of the 12 standard leads are observed) and, when the file carries
        channels that are not standard leads (Frank leads, ...), ``dropped_channels``.
    """
    data, names, fs = read_wfdb(path)
    hea = _record_base(path).with_suffix(".hea")
    _, _, dropped = plan_leads(names, hea, field)
    signal, observed = place_leads(data, names, hea, field=field)
    meta: dict = {"n_leads": int(observed.any(axis=1).sum())}
    if dropped:
        meta["dropped_channels"] = ", ".join(dropped)
    return signal, observed, fs, meta


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


def find_records(root: str | Path) -> list[Path]:
    """Every WFDB record header below ``root`` (sorted), less the segment headers of multi-segment
    records (they are read through the master header) and their ``_layout`` headers."""
    root = Path(root)
    headers = sorted(root.rglob("*.hea"))
    segments: set[Path] = set()
    for hea in headers:
        try:
            first = _header_lines(hea)[:1]
        except EcgDataError:
            continue
        if first and "/" in first[0].split()[0]:
            for line in _header_lines(hea)[1:]:
                name = line.split()[0]
                if name != "~":
                    segments.add((hea.parent / (name + ".hea")).resolve())
    return [h for h in headers if h.resolve() not in segments and not h.stem.endswith("_layout")]


def header_comments(path: str | Path) -> list[str]:
    """The comment lines of a header (text after ``#``, stripped), in order."""
    hea = _record_base(path).with_suffix(".hea")
    text = _header_bytes(hea).decode("utf-8", errors="replace")
    return [ln.strip()[1:].strip() for ln in text.splitlines() if ln.strip().startswith("#")]
