import numpy as np
import pytest
import scipy.io

from ecgfoundry.errors import EcgDataError
from ecgfoundry.io.challenge import Challenge, snomed_table, source_of
from ecgfoundry.io.detect import detect_format
from ecgfoundry.signals.leads import LEADS


def write_record(folder, name, dx="164889003,59118001", fs=500, n=1000, leads=LEADS, gain=1000.0,
                 values=None, age="61", sex="Female"):
    folder.mkdir(parents=True, exist_ok=True)
    if values is None:
        values = (np.arange(len(leads))[:, None] * 100 + np.zeros((1, n))).astype(np.int16)
    scipy.io.savemat(folder / f"{name}.mat", {"val": values}, format="4")
    lines = [f"{name} {len(leads)} {fs} {n}"]
    for lead in leads:
        lines.append(f"{name}.mat 16+24 {gain}/mV 16 0 0 0 0 {lead}")
    lines += [f"# Age: {age}", f"# Sex: {sex}", f"# Dx: {dx}", "# Rx: Unknown"]
    (folder / f"{name}.hea").write_text("\n".join(lines) + "\n")


def test_snomed_names_and_equivalences(tmp_path):
    write_record(tmp_path / "georgia" / "g1", "E00001", dx="713427006,164889003")
    write_record(tmp_path / "georgia" / "g1", "E00002", dx="59118001,426783006")
    write_record(tmp_path / "ningbo" / "g1", "JS20001", dx="251146004")
    ds = Challenge(tmp_path)
    assert detect_format(tmp_path) == "challenge"
    assert len(ds) == 3
    y, classes = ds.labels("scored")
    r = classes.index("RBBB")
    np.testing.assert_array_equal(y[:, r], [1, 1, 0])  # CRBBB and RBBB are one scored class
    np.testing.assert_array_equal(ds.labels("AF")[0][:, 0], [1, 0, 0])
    np.testing.assert_array_equal(ds.labels("CD")[0][:, 0], [1, 1, 0])
    assert "CRBBB" not in classes and len(classes) == 26
    assert ds.describe_class("scored", "LQRSV").startswith("low qrs voltages")
    assert ds.table["source"].tolist() == ["Georgia", "Georgia", "Ningbo"]
    assert ds.table["sex"].tolist() == ["F", "F", "F"]


def test_units_and_lead_order(tmp_path):
    order = ["V1", "I", "II", "III", "aVR", "aVF", "aVL", "V2", "V3", "V4", "V5", "V6"]
    vals = (np.array([LEADS.index(n) for n in order])[:, None] * 100 + np.zeros((1, 500))).astype(np.int16)
    write_record(tmp_path, "A0001", leads=order, values=vals, gain=200.0, fs=257, n=500)
    rec = Challenge(tmp_path).read(0)
    assert rec.fs == 257 and rec.signal.shape == (12, 500)
    np.testing.assert_allclose(rec.signal[:, 0], np.arange(12) * 100 / 200.0)
    assert not rec.observed[0].any()  # lead I is exactly zero throughout: unobserved


def test_fewer_leads_and_unknown_code(tmp_path):
    vals = np.ones((2, 300), dtype=np.int16) * 50
    write_record(tmp_path, "Q0001", leads=("II", "V5"), values=vals, n=300, dx="999999999")
    ds = Challenge(tmp_path)
    assert any("not in the challenge mapping" in n for n in ds.notes)
    rec = ds.read(0)
    assert rec.observed.any(axis=1).tolist() == [lead in ("II", "V5") for lead in LEADS]
    assert ds.labels("all")[1] == ("999999999",)


def test_bad_files(tmp_path):
    write_record(tmp_path, "E1", dx="164889003")
    write_record(tmp_path, "E2", dx="164889003")
    write_record(tmp_path, "E3", leads=LEADS[:11] + ("Pleth",))
    (tmp_path / "E2.mat").write_bytes(b"\x00" * 40)  # truncated
    ds = Challenge(tmp_path)
    with pytest.raises(EcgDataError, match="E2.mat"):
        ds.read("E2")
    with pytest.raises(EcgDataError, match=r"E3.hea.*Pleth"):
        ds.read("E3")
    got = [r.record_id for _, r in ds.iter_records(progress=False)]
    assert got == ["E1"]
    assert sorted(p.record_id for p in ds.problems) == ["E2", "E3"]
    assert "E2" in ds.problem_summary() and "E3" in ds.problem_summary()
    (tmp_path / "E4.hea").write_text("E4 12 500 1000\n# Dx: AF\n")
    # a bad '# Dx' skips that record only, named with the field and the reason ...
    ds = Challenge(tmp_path)
    assert list(ds.table["record_id"]) == ["E1", "E2", "E3"]
    assert [(p.record_id, p.stage) for p in ds.row_problems] == [("E4", "table")]
    assert "E4.hea: # Dx: not SNOMED-CT codes: ['AF']" in ds.row_problems[0].message
    assert "E4" in ds.problem_summary()
    # ... and fail-fast stops at it
    with pytest.raises(EcgDataError, match=r"E4.hea: # Dx"):
        Challenge(tmp_path, errors="raise")


def test_empty_folder(tmp_path):
    with pytest.raises(EcgDataError, match="empty"):
        detect_format(tmp_path)
    with pytest.raises(EcgDataError, match=r"no challenge records"):
        Challenge(tmp_path)


def test_source_prefixes():
    assert source_of("A0001") == "CPSC" and source_of("Q0001") == "CPSC-Extra"
    assert source_of("I0001") == "INCART" and source_of("S0001") == "PTB"
    assert source_of("HR00001") == "PTB-XL" and source_of("E00001") == "Georgia"
    assert source_of("JS00001") == "Chapman-Shaoxing" and source_of("JS10647") == "Ningbo"
    assert source_of("JS00001", ("training", "ningbo", "g1")) == "Ningbo"
    assert snomed_table().loc["164889003", "abbreviation"] == "AF"


def test_real_challenge_records(cinc_root):
    ds = Challenge(cinc_root)
    assert len(ds) == 50 and not ds.notes
    y, classes = ds.labels("all")
    assert y.sum() > 50 and all(not c.isdigit() for c in classes)  # every code has a name
    recs = [r for _, r in ds.iter_records(progress=False)]
    assert len(recs) == 50 and not ds.problems
    for r in recs[:5]:
        assert r.fs == 500 and r.signal.shape == (12, 5000) and np.abs(r.signal).max() < 30
        np.testing.assert_allclose(r.signal[2], r.signal[1] - r.signal[0], atol=0.02)
