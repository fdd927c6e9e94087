"""Reading WFDB records safely: units, lead order, and a clear error for every broken file."""

from __future__ import annotations

import numpy as np
import pytest

wfdb = pytest.importorskip("wfdb")

from ecgfoundry.errors import EcgDataError  # noqa: E402
from ecgfoundry.io.wfdb_common import read_wfdb, read_wfdb_header, read_wfdb_record  # noqa: E402
from ecgfoundry.signals.leads import LEADS  # noqa: E402

MIMIC_ORDER = ["I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6"]


def write(tmp_path, name="rec", names=MIMIC_ORDER, units=None, fs=500, n=200, values=None, fmt="16"):
    """Write a record whose lead k is the constant (k + 1) * 0.1 mV, in the given units."""
    if values is None:
        values = np.tile((np.arange(len(names)) + 1) * 0.1, (n, 1))
    units = units or ["mV"] * len(names)
    scale = {"mV": 1.0, "uV": 1000.0, "V": 0.001}
    p = np.stack([values[:, k] * scale[u] for k, u in enumerate(units)], axis=1)
    wfdb.wrsamp(name, fs=fs, units=units, sig_name=list(names), p_signal=p, fmt=[fmt] * len(names),
                write_dir=str(tmp_path))
    return tmp_path / name


def test_reads_names_units_and_fs(tmp_path):
    rec = write(tmp_path, units=["mV", "uV", "V"] + ["mV"] * 9)
    data, names, fs = read_wfdb(rec)
    assert fs == 500.0 and names == tuple(MIMIC_ORDER) and data.shape == (200, 12)
    # every column back in mV whatever unit it was stored in
    np.testing.assert_allclose(data[0], (np.arange(12) + 1) * 0.1, atol=2e-3)


def test_accepts_path_with_extension(tmp_path):
    rec = write(tmp_path)
    assert read_wfdb(str(rec) + ".hea")[2] == 500.0
    assert read_wfdb_header(str(rec) + ".dat").n_samples == 200


def test_canonical_order_by_name(tmp_path):
    rec = write(tmp_path)
    signal, observed, fs = read_wfdb_record(rec)
    assert signal.shape == (12, 200) and signal.dtype == np.float32 and observed.all()
    # file stored aVF (0.5 mV) before aVL (0.6 mV): canonical puts aVL at 4, aVF at 5
    assert signal[LEADS.index("aVL"), 0] == pytest.approx(0.6, abs=2e-3)
    assert signal[LEADS.index("aVF"), 0] == pytest.approx(0.5, abs=2e-3)
    assert signal[LEADS.index("V6"), 0] == pytest.approx(1.2, abs=2e-3)


def test_fewer_leads_and_flat_lead_unobserved(tmp_path):
    values = np.ones((100, 3)) * [0.5, 0.0, 0.7]
    rec = write(tmp_path, names=["II", "V1", "V5"], n=100, values=values)
    signal, observed, _ = read_wfdb_record(rec)
    assert observed[LEADS.index("II")].all() and observed[LEADS.index("V5")].all()
    assert not observed[LEADS.index("V1")].any()  # exactly zero everywhere
    assert observed.sum(axis=1).tolist().count(100) == 2


def test_header_without_fs_is_error(tmp_path):
    rec = write(tmp_path)
    hea = rec.with_suffix(".hea")
    lines = hea.read_text().splitlines()
    lines[0] = "rec 12"
    hea.write_text("\n".join(lines) + "\n")
    with pytest.raises(EcgDataError, match="no sampling rate") as info:
        read_wfdb(rec)
    assert info.value.field == "sampling rate" and info.value.path.endswith("rec.hea")


@pytest.mark.parametrize("record_line, field", [
    ("rec 12 abc 200", "sampling rate"),
    ("rec 12 0 200", "sampling rate"),
    ("rec 12 500 2x0", "number of samples"),
    ("rec twelve 500 200", "number of signals"),
    ("rec 13 500 200", "number of signals"),
])
def test_wrong_record_line_names_field(tmp_path, record_line, field):
    rec = write(tmp_path)
    hea = rec.with_suffix(".hea")
    lines = hea.read_text().splitlines()
    lines[0] = record_line
    hea.write_text("\n".join(lines) + "\n")
    with pytest.raises(EcgDataError) as info:
        read_wfdb(rec)
    assert info.value.field == field and "rec.hea" in str(info.value)


def test_bad_gain_names_signal_and_field(tmp_path):
    rec = write(tmp_path)
    hea = rec.with_suffix(".hea")
    lines = hea.read_text().splitlines()
    parts = lines[3].split(" ")
    parts[2] = "oops/mV"
    lines[3] = " ".join(parts)
    hea.write_text("\n".join(lines) + "\n")
    with pytest.raises(EcgDataError, match="rec.hea: signal 3: gain"):
        read_wfdb(rec)


def test_missing_header(tmp_path):
    with pytest.raises(EcgDataError, match="missing header") as info:
        read_wfdb(tmp_path / "absent")
    assert info.value.path.endswith("absent.hea")


def test_binary_header_is_corrupt(tmp_path):
    rec = write(tmp_path)
    rec.with_suffix(".hea").write_bytes(b"\x00\x01\x02garbage")
    with pytest.raises(EcgDataError, match="rec.hea.*corrupt"):
        read_wfdb(rec)


def test_missing_dat_names_dat(tmp_path):
    rec = write(tmp_path)
    rec.with_suffix(".dat").unlink()
    with pytest.raises(EcgDataError, match="missing signal file") as info:
        read_wfdb(rec)
    assert info.value.path.endswith("rec.dat")


@pytest.mark.parametrize("fmt", ["16", "212"])
def test_truncated_dat_says_expected_and_got(tmp_path, fmt):
    rec = write(tmp_path, fmt=fmt)
    dat = rec.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[:1001])
    with pytest.raises(EcgDataError, match="truncated") as info:
        read_wfdb(rec)
    assert info.value.path.endswith("rec.dat")
    assert "200 samples" in str(info.value) and "1001 bytes" in str(info.value)


def test_unknown_lead_name(tmp_path):
    rec = write(tmp_path, names=["I", "Pleth"], n=50)
    with pytest.raises(EcgDataError, match="rec.hea: lead names: unknown lead name 'Pleth'"):
        read_wfdb_record(rec)


def test_unknown_unit_is_error(tmp_path):
    rec = write(tmp_path, names=["I", "II"], n=50)
    hea = rec.with_suffix(".hea")
    hea.write_text(hea.read_text().replace("/mV", "/NU", 1))
    with pytest.raises(EcgDataError, match="units of lead I: unknown physical unit 'NU'"):
        read_wfdb(rec)


def test_invalid_samples_become_unobserved_not_nan(tmp_path):
    rec = write(tmp_path, names=["I", "II"], n=50)
    dat = rec.with_suffix(".dat")
    raw = np.fromfile(dat, dtype="<i2").reshape(50, 2)
    raw[10:20, 0] = -32768  # the format-16 "invalid sample" code
    raw.tofile(dat)
    signal, observed, _ = read_wfdb_record(rec)
    assert np.isfinite(signal).all()
    assert not observed[0, 10:20].any() and observed[0, :10].all() and observed[1].all()


def test_byte_offset_counts_in_truncation_check(tmp_path):
    rec = write(tmp_path, names=["I", "II"], n=50)
    dat, hea = rec.with_suffix(".dat"), rec.with_suffix(".hea")
    dat.write_bytes(b"\x00" * 24 + dat.read_bytes())
    hea.write_text(hea.read_text().replace("rec.dat 16 ", "rec.dat 16+24 "))
    data, _, _ = read_wfdb(rec)
    np.testing.assert_allclose(data[0], [0.1, 0.2], atol=2e-3)
    dat.write_bytes(dat.read_bytes()[:-3])  # 24 + 200 bytes expected, 221 present
    with pytest.raises(EcgDataError, match=r"224 bytes\), file has 221 bytes"):
        read_wfdb(rec)


def test_unknown_format_named(tmp_path):
    rec = write(tmp_path, names=["I", "II"], n=50)
    hea = rec.with_suffix(".hea")
    hea.write_text(hea.read_text().replace("rec.dat 16 ", "rec.dat 17 ", 1))
    with pytest.raises(EcgDataError, match=r"rec.hea: signal 1: format: unknown WFDB storage format '17'"):
        read_wfdb(rec)
