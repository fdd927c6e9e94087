"""MIMIC-IV-ECG reader on a tiny folder in the release's layout."""

from __future__ import annotations

import numpy as np
import pytest

wfdb = pytest.importorskip("wfdb")

from ecgfoundry.errors import EcgDataError  # noqa: E402
from ecgfoundry.io.mimic_ecg import MIMICECG, join_report  # noqa: E402
from ecgfoundry.signals.leads import LEADS  # noqa: E402

MIMIC_ORDER = ["I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6"]
N = 100
# value of each lead by canonical name: distinct, so a swap shows
VALUE = {name: (k + 1) / 10.0 for k, name in enumerate(LEADS)}


def write_record(root, subject, study, names=MIMIC_ORDER, units="mV", flat=()):
    rel = f"files/p{subject[:4]}/p{subject}/s{study}/{study}"
    folder = root / rel.rsplit("/", 1)[0]
    folder.mkdir(parents=True, exist_ok=True)
    scale = {"mV": 1.0, "uV": 1000.0}[units]
    sig = np.tile([0.0 if n in flat else VALUE[n] * scale for n in names], (N, 1))
    wfdb.wrsamp(study, fs=500, units=[units] * len(names), sig_name=list(names), p_signal=sig,
                fmt=["16"] * len(names), write_dir=str(folder))
    return rel


@pytest.fixture
def root(tmp_path):
    rows = [("10000032", "40689238"), ("10000032", "40689239"), ("10000117", "45090959"),
            ("10000560", "40256233")]
    rels = [write_record(tmp_path, s, st) for s, st in rows[:3]]
    rels.append(write_record(tmp_path, *rows[3], names=MIMIC_ORDER[:6], units="uV", flat=("III",)))
    lines = ["subject_id,study_id,file_name,ecg_time,path"]
    lines += [f"{s},{st},{st},2180-07-23 08:44:00,{rel}" for (s, st), rel in zip(rows, rels)]
    (tmp_path / "record_list.csv").write_text("\n".join(lines) + "\n")
    reports = ["report_%d" % k for k in range(18)]
    mm = ["subject_id,study_id,cart_id,ecg_time," + ",".join(reports) + ",bandwidth,rr_interval,qrs_axis"]

    def mm_row(s, st, texts, rr):
        cells = list(texts) + [""] * (18 - len(texts))
        return f"{s},{st},6848296,2180-07-23 08:44:00," + ",".join(cells) + f",0.5-150 Hz,{rr},45"

    mm.append(mm_row("10000032", "40689238", ["Sinus rhythm", "", " Possible left atrial abnormality ",
                                              "Borderline ECG"], 659))
    mm.append(mm_row("10000032", "40689239", ["Atrial fibrillation."], 500))
    mm.append(mm_row("10000117", "45090959", [], 800))
    (tmp_path / "machine_measurements.csv").write_text("\n".join(mm) + "\n")
    return tmp_path


def test_table_text_and_meta(root):
    ds = MIMICECG(root)
    assert list(ds.table["record_id"]) == ["40689238", "40689239", "45090959", "40256233"]
    assert list(ds.table["patient_id"]) == ["10000032", "10000032", "10000117", "10000560"]
    assert ds.table["text"][0] == "Sinus rhythm. Possible left atrial abnormality. Borderline ECG"
    assert ds.table["text"][1] == "Atrial fibrillation."
    assert ds.table["text"][2] is None  # all report cells blank
    assert ds.table["text"][3] is None and any("40256233" in n for n in ds.notes)
    assert ds.table["rr_interval"][0] == 659 and ds.table["cart_id"][0] == "6848296"
    assert all(c == () for c in ds.table["codes"])


def test_join_report():
    assert join_report(["A", float("nan"), "  ", "B;", "C"]) == "A. B; C"
    assert join_report([None, ""]) is None


def test_avf_avl_swap_lands_by_name(root):
    ds = MIMICECG(root)
    rec = ds.read("40689238")
    assert rec.fs == 500.0 and rec.signal.shape == (12, N) and rec.observed.all()
    np.testing.assert_allclose(rec.signal[:, 0], [VALUE[n] for n in LEADS], atol=1e-3)
    assert rec.signal[LEADS.index("aVL"), 0] == pytest.approx(0.5, abs=1e-3)
    assert rec.signal[LEADS.index("aVF"), 0] == pytest.approx(0.6, abs=1e-3)
    assert rec.text.startswith("Sinus rhythm") and rec.patient_id == "10000032"
    assert rec.meta["ecg_time"] == "2180-07-23 08:44:00"
    assert ds.header(0) == (500.0, N)


def test_fewer_leads_microvolts_and_flat(root):
    rec = MIMICECG(root).read("40256233")
    limb = [LEADS.index(n) for n in ("I", "II", "aVR", "aVL", "aVF")]
    np.testing.assert_allclose(rec.signal[limb, 0], [VALUE[LEADS[i]] for i in limb], atol=1e-3)
    assert rec.observed[limb].all()
    assert not rec.observed[LEADS.index("III")].any()  # written as exactly zero
    assert not rec.observed[6:].any() and not rec.signal[6:].any()  # precordial leads absent


def test_no_labels_is_clear_error(root):
    ds = MIMICECG(root)
    with pytest.raises(KeyError, match="no diagnostic labels"):
        ds.labels()


def test_patient_wise_splits(tmp_path):
    lines = ["subject_id,study_id,file_name,ecg_time,path"]
    lines += [f"{1000 + i // 4},{5000 + i},{5000 + i},t,files/x/{5000 + i}" for i in range(200)]
    (tmp_path / "record_list.csv").write_text("\n".join(lines) + "\n")
    ds = MIMICECG(tmp_path, seed=7)
    assert (ds.table.groupby("patient_id")["split"].nunique() == 1).all()
    assert set(ds.table["split"]) == {"train", "val", "test"}
    assert any("machine_measurements.csv is absent" in n for n in ds.notes)


def test_missing_and_broken_files_named(root):
    ds = MIMICECG(root)
    rel = ds.table["path"][1]
    (root / rel).unlink()  # the .hea
    dat = root / ds.table["path"][2].replace(".hea", ".dat")
    dat.write_bytes(dat.read_bytes()[:50])
    with pytest.raises(EcgDataError, match="missing header") as info:
        ds.read("40689239")
    assert info.value.path.endswith("40689239.hea")
    with pytest.raises(EcgDataError, match="truncated") as info:
        ds.read("45090959")
    assert info.value.path.endswith("45090959.dat")
    got = [ds.table["record_id"][i] for i, _ in ds.iter_records(progress=False)]
    assert got == ["40689238", "40256233"]
    assert sorted(p.record_id for p in ds.problems) == ["40689239", "45090959"]


def test_header_without_fs(root):
    ds = MIMICECG(root)
    hea = root / ds.table["path"][0]
    lines = hea.read_text().splitlines()
    lines[0] = " ".join(lines[0].split()[:2])
    hea.write_text("\n".join(lines) + "\n")
    with pytest.raises(EcgDataError, match="40689238.hea: sampling rate: header has no sampling rate"):
        ds.read(0)
    with pytest.raises(EcgDataError, match="sampling rate"):
        ds.header(0)


def test_missing_columns_and_duplicates(root):
    (root / "record_list.csv").write_text("subject_id,file_name\n1,2\n")
    with pytest.raises(EcgDataError, match=r"record_list.csv: study_id, path: required column"):
        MIMICECG(root)
    (root / "record_list.csv").write_text("subject_id,study_id,path\n1,2,a\n1,2,b\n1,3,c\n,4,d\n")
    ds = MIMICECG(root)  # the bad rows are left out and named; the good one stays
    assert list(ds.table["record_id"]) == ["3"]
    assert [p.message.split("record_list.csv: ")[1] for p in ds.row_problems] == [
        "line 5: subject_id: blank", "lines 2, 3: study_id: study 2 is listed 2 times; all its rows are left out"]
    with pytest.raises(EcgDataError, match=r"record_list.csv: line 5: subject_id: blank"):
        MIMICECG(root, errors="raise")
    (root / "record_list.csv").write_text("subject_id,study_id,path\n1,2,a\n1,2,b\n")
    with pytest.raises(EcgDataError, match=r"record_list.csv: no usable row: .*study 2 is listed 2 times"):
        MIMICECG(root)


def test_open_dataset_detects_mimic(root):
    from ecgfoundry.io import open_dataset

    assert isinstance(open_dataset(root), MIMICECG)
