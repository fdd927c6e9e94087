"""Headers checked against their data: a mismatch is a clear error naming the file and the field,
never numbers read wrongly; NaN/inf become unobserved exactly; extra channels are dropped with a
note; library errors become sentences. Every damaged file is written here."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

wfdb = pytest.importorskip("wfdb")

from ecgfoundry.errors import EcgDataError  # noqa: E402
from ecgfoundry.io.base import plan_leads  # noqa: E402
from ecgfoundry.io.challenge import Challenge  # noqa: E402
from ecgfoundry.io.wfdb_common import (read_wfdb, read_wfdb_canonical, read_wfdb_header,  # noqa: E402
                                       wfdb_header_info)
from ecgfoundry.signals.leads import LEADS  # noqa: E402

FRANK = ("vx", "vy", "vz")


def challenge_record(folder, name, leads=LEADS, n=500, val=None, gain=1000.0, dx="164889003",
                     record_line=None):
    """A challenge record; lead k holds the ADC value 100 * (k + 1) (0.1 * (k + 1) mV at gain 1000)."""
    folder.mkdir(parents=True, exist_ok=True)
    if val is None:
        val = np.tile((np.arange(len(leads)) + 1)[:, None] * 100, (1, n)).astype(np.int16)
    scipy.io.savemat(folder / f"{name}.mat", {"val": val}, format="4")
    lines = [record_line or f"{name} {len(leads)} 500 {n}"]
    lines += [f"{name}.mat 16x1+24 {gain}(0)/mV 16 0 0 0 0 {ld}" for ld in leads]
    lines += ["# Age: 70", "# Sex: Male", f"# Dx: {dx}"]
    (folder / f"{name}.hea").write_text("\n".join(lines) + "\n")
    return folder / name


def dat_record(folder, name, names=LEADS, n=200, fs=500, values=None):
    """A format-16 WFDB record; lead k is the constant 0.1 * (k + 1) mV."""
    folder.mkdir(parents=True, exist_ok=True)
    if values is None:
        values = np.tile((np.arange(len(names)) + 1) * 0.1, (n, 1))
    wfdb.wrsamp(name, fs=fs, units=["mV"] * len(names), sig_name=list(names), p_signal=values,
                fmt=["16"] * len(names), adc_gain=[1000.0] * len(names), baseline=[0] * len(names),
                write_dir=str(folder))
    return folder / name


def edit_lines(hea, fn):
    lines = hea.read_text().splitlines()
    hea.write_text("\n".join(fn(lines)) + "\n")


# --- the header's signal count against its signal lines ------------------------------------
@pytest.mark.parametrize("kind", ["dat", "mat"])
def test_declared_fewer_signals_than_listed(tmp_path, kind):
    rec = dat_record(tmp_path, "r") if kind == "dat" else challenge_record(tmp_path, "r")
    hea = rec.with_suffix(".hea")
    edit_lines(hea, lambda ls: [ls[0].replace("r 12 ", "r 11 ", 1)] + ls[1:])
    with pytest.raises(EcgDataError) as info:
        read_wfdb(rec)
    assert info.value.field == "number of signals" and info.value.path.endswith("r.hea")
    assert "record line says 11 signals but the header has 12 signal line(s)" in str(info.value)
    assert "TypeError" not in str(info.value)


@pytest.mark.parametrize("kind", ["dat", "mat"])
def test_dropped_signal_line(tmp_path, kind):
    rec = dat_record(tmp_path, "r") if kind == "dat" else challenge_record(tmp_path, "r")
    hea = rec.with_suffix(".hea")
    edit_lines(hea, lambda ls: ls[:5] + ls[6:])  # signal line of aVL gone, record line still says 12
    with pytest.raises(EcgDataError, match=r"r.hea: number of signals: record line says 12 signals but "
                                           r"the header has 11 signal line"):
        read_wfdb(rec)
    with pytest.raises(EcgDataError, match="number of signals"):  # the header scan sees it too
        wfdb_header_info(rec)


# --- challenge .mat: presence, orientation, size of val; NaN / inf ---------------------------
def test_mat_without_val(tmp_path):
    rec = challenge_record(tmp_path, "A1")
    scipy.io.savemat(tmp_path / "A1.mat", {"ecg": np.zeros((12, 500), np.int16)}, format="4")
    with pytest.raises(EcgDataError) as info:
        read_wfdb(rec)
    assert info.value.path.endswith("A1.mat") and info.value.field == "val"
    assert "no 'val' array in the file (variables: ecg)" in str(info.value)


def test_transposed_val(tmp_path):
    rec = challenge_record(tmp_path, "A1")
    val = np.tile((np.arange(12) + 1)[:, None] * 100, (1, 500)).astype(np.int16)
    scipy.io.savemat(tmp_path / "A1.mat", {"val": val.T}, format="4")
    with pytest.raises(EcgDataError, match=r"A1.mat: val: stored transposed: shape \(500, 12\) is samples x "
                                           r"signals, A1.hea declares 12 signals x 500 samples"):
        read_wfdb(rec)


@pytest.mark.parametrize("shape, match", [
    ((12, 400), r"A1.mat: val: 400 samples per signal: A1.hea declares 12 signals x 500 samples"),
    ((11, 500), r"A1.mat: val: 11 rows \(signals\) for 12 signal lines"),
    ((12, 500), None),  # control: a val of the declared size reads
])
def test_val_size_against_header(tmp_path, shape, match):
    rec = challenge_record(tmp_path, "A1")
    scipy.io.savemat(tmp_path / "A1.mat", {"val": np.ones(shape, np.int16)}, format="4")
    if match is None:
        assert read_wfdb(rec)[0].shape == (500, 12)
        return
    with pytest.raises(EcgDataError, match=match):
        read_wfdb(rec)


def test_val_of_text_is_refused(tmp_path):
    rec = challenge_record(tmp_path, "A1")
    scipy.io.savemat(tmp_path / "A1.mat", {"val": np.array(["abc"])}, format="5")
    with pytest.raises(EcgDataError, match=r"A1.mat: val: expected a numeric signals x samples array"):
        read_wfdb(rec)


def test_nan_and_inf_samples_unobserved_exactly(tmp_path):
    val = np.tile((np.arange(12) + 1)[:, None] * 100.0, (1, 500))
    val[0, 10:20] = np.nan
    val[3, 100] = np.inf
    val[7, :] = -np.inf  # a whole lead
    rec = challenge_record(tmp_path, "A1", val=val)
    signal, observed, fs, meta = read_wfdb_canonical(rec)
    expected_obs = np.ones((12, 500), bool)
    expected_obs[0, 10:20] = False
    expected_obs[3, 100] = False
    expected_obs[7, :] = False
    np.testing.assert_array_equal(observed, expected_obs)
    expected = np.where(expected_obs, (np.arange(12) + 1)[:, None] * 0.1, 0.0)
    np.testing.assert_allclose(signal, expected, atol=1e-6)  # every other sample exact, in mV
    assert meta["n_leads"] == 11


def test_integer_invalid_code_unobserved(tmp_path):
    val = np.tile((np.arange(12) + 1)[:, None] * 100, (1, 500)).astype(np.int16)
    val[2, 5] = -32768  # the format-16 "invalid sample" code, as wfdb reads it from a .dat
    rec = challenge_record(tmp_path, "A1", val=val)
    signal, observed, _, _ = read_wfdb_canonical(rec)
    assert not observed[2, 5] and signal[2, 5] == 0 and observed.sum() == 12 * 500 - 1


def test_gain_baseline_and_units_from_header(tmp_path):
    rec = challenge_record(tmp_path, "A1", leads=("I", "II"), n=50, val=np.full((2, 50), 700, np.int16))
    hea = rec.with_suffix(".hea")
    edit_lines(hea, lambda ls: [ls[0], ls[1].replace("1000.0(0)/mV", "200(200)/mV"),
                                ls[2].replace("1000.0(0)/mV", "2(0)/uV")] + ls[3:])
    data, names, _ = read_wfdb(rec)
    np.testing.assert_allclose(data[0], [(700 - 200) / 200, 700 / 2 * 1e-3])  # 2.5 mV, 0.35 mV
    edit_lines(hea, lambda ls: [ls[0], ls[1].replace("200(200)/mV", "0(0)/mV")] + ls[2:])
    with pytest.raises(EcgDataError, match=r"A1.hea: signal 1: gain: ADC gain 0"):
        read_wfdb(rec)


# --- Georgia: record line with the file extension -------------------------------------------
def test_georgia_record_line_with_extension(tmp_path):
    rec = challenge_record(tmp_path, "E07520", record_line="E07520.mat 12 500 500 05-May-2020 09:49:17")
    plain = challenge_record(tmp_path, "E07521")
    assert read_wfdb_header(rec).record_name == "E07520"
    np.testing.assert_array_equal(read_wfdb(rec)[0], read_wfdb(plain)[0])
    ds = Challenge(tmp_path)
    assert len(list(ds.iter_records(progress=False))) == 2 and not ds.problems
    info = ds.header_info(0)
    assert info.fs == 500 and info.n_samples == 500 and any("file extension" in n for n in info.notes)


def test_record_line_extension_on_dat_is_named(tmp_path):
    rec = dat_record(tmp_path, "r")
    hea = rec.with_suffix(".hea")
    edit_lines(hea, lambda ls: ["r.dat" + ls[0][1:]] + ls[1:])
    with pytest.raises(EcgDataError, match=r"r.hea: record line: record name 'r.dat' carries a file "
                                           r"extension, which WFDB readers cannot read"):
        wfdb_header_info(rec)  # seen from the header alone
    edit_lines(hea, lambda ls: ["r?x" + ls[0][5:]] + ls[1:])
    with pytest.raises(EcgDataError, match=r"r.hea: record line: record name 'r\?x' cannot be read"):
        read_wfdb(rec)


# --- leads: extra channels and fewer leads ---------------------------------------------------
def test_ptb_diagnostic_frank_leads_dropped(tmp_path):
    names = LEADS + FRANK
    values = np.tile((np.arange(15) + 1) * 0.1, (200, 1))
    rec = dat_record(tmp_path, "s0010_re", names=names, values=values)
    signal, observed, fs, meta = read_wfdb_canonical(rec)
    assert observed.all() and meta["dropped_channels"] == "vx, vy, vz" and meta["n_leads"] == 12
    np.testing.assert_allclose(signal[:, 0], (np.arange(12) + 1) * 0.1, atol=1e-3)  # Frank never lands
    info = wfdb_header_info(rec)
    assert info.leads == LEADS and info.dropped == FRANK


def test_extra_channel_dropped_only_when_nothing_can_be_mislabelled():
    src, dst, dropped = plan_leads(list(LEADS) + ["Resp"], "x.hea")
    assert dropped == ("Resp",) and len(dst) == 12
    src, dst, dropped = plan_leads(["II", "V1", "X", "Y", "Z"], "x.hea")  # Frank leads: always
    assert dropped == ("X", "Y", "Z") and list(src) == [0, 1]
    with pytest.raises(EcgDataError, match=r"x.hea: lead names: unknown lead name 'V7x'"):
        plan_leads(list(LEADS[:11]) + ["V7x"], "x.hea")  # 11 leads + a stranger: maybe a misspelt V6
    with pytest.raises(EcgDataError, match="none of the channels"):
        plan_leads(["vx", "vy", "vz"], "x.hea")


def test_fewer_leads_say_how_many(tmp_path):
    rec = dat_record(tmp_path, "100", names=("MLII", "V1"), n=360 * 3, fs=360)
    signal, observed, fs, meta = read_wfdb_canonical(rec)
    assert fs == 360 and meta["n_leads"] == 2
    assert observed.any(axis=1).tolist() == [ld in ("II", "V1") for ld in LEADS]
    assert wfdb_header_info(rec).leads == ("II", "V1")


# --- errors raised inside a library become sentences ----------------------------------------
def test_library_error_becomes_a_sentence(tmp_path, monkeypatch):
    rec = dat_record(tmp_path, "r")

    def broken(*args, **kwargs):
        raise TypeError("'>' not supported between instances of 'NoneType' and 'int'")

    monkeypatch.setattr(wfdb, "rdrecord", broken)
    with pytest.raises(EcgDataError) as info:
        read_wfdb(rec)
    msg = str(info.value)
    assert info.value.path.endswith("r.dat") and "could not read this record" in msg
    assert "header and signal file disagree or the signal file is malformed" in msg


def test_reader_translates_unexpected_errors(tmp_path, monkeypatch):
    challenge_record(tmp_path, "A1")
    ds = Challenge(tmp_path)

    def broken(row):
        raise AttributeError("'NoneType' object has no attribute 'shape'")

    monkeypatch.setattr(ds, "_read_row", broken)
    with pytest.raises(EcgDataError, match=r"A1.hea: malformed file: the reader library failed on it"):
        ds.read(0)
    assert list(ds.iter_records(progress=False)) == [] and "malformed file" in ds.problems[0].message


def test_dat_longer_than_header_says(tmp_path):
    rec = dat_record(tmp_path, "r", names=("I", "II"), n=100)
    hea = rec.with_suffix(".hea")
    edit_lines(hea, lambda ls: [ls[0].replace(" 100", " 50")] + ls[1:])  # header claims half
    with pytest.raises(EcgDataError, match=r"r.dat: samples: signal file longer than its header says"):
        read_wfdb(rec)


def test_header_scan_sees_a_truncated_signal_file(tmp_path):
    rec = dat_record(tmp_path, "r", names=("I", "II"), n=100)
    assert wfdb_header_info(rec).n_samples == 100
    dat = rec.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[:150])
    with pytest.raises(EcgDataError, match=r"r.dat: samples: truncated signal file"):
        wfdb_header_info(rec)  # a stat, no read
