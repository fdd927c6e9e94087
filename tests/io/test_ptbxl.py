import numpy as np
import pandas as pd
import pytest
import wfdb

from ecgfoundry.errors import EcgDataError
from ecgfoundry.io.ptbxl import PTBXL
from ecgfoundry.signals.leads import LEADS

STATEMENTS = pd.DataFrame(
    {"description": ["normal ECG", "inferior myocardial infarction", "complete right bundle branch block",
                     "atrial fibrillation", "sinus rhythm", "left anterior fascicular block"],
     "diagnostic": [1, 1, 1, np.nan, np.nan, 1], "form": [np.nan] * 6,
     "rhythm": [np.nan, np.nan, np.nan, 1, 1, np.nan],
     "diagnostic_class": ["NORM", "MI", "CD", None, None, "CD"],
     "diagnostic_subclass": ["NORM", "IMI", "CRBBB", None, None, "LAFB/LPFB"]},
    index=pd.Index(["NORM", "IMI", "CRBBB", "AFIB", "SR", "LAFB"]))


def make_ptbxl(root, rows, write=None):
    """Tiny PTB-XL layout. rows: (ecg_id, patient_id, fold, scp_codes dict, report)."""
    (root / "records100" / "00000").mkdir(parents=True)
    STATEMENTS.to_csv(root / "scp_statements.csv")
    recs = []
    for ecg_id, pid, fold, codes, report in rows:
        name = f"{ecg_id:05d}_lr"
        if write is None or ecg_id in write:
            sig = np.tile(np.arange(12, dtype=float)[None, :] * 0.1 + 0.05, (1000, 1))
            sig[:, 0] = np.sin(np.arange(1000) / 10)
            wfdb.wrsamp(name, fs=100, units=["mV"] * 12, sig_name=list(LEADS), p_signal=sig,
                        fmt=["16"] * 12, adc_gain=[1000.0] * 12, baseline=[0] * 12,
                        write_dir=str(root / "records100" / "00000"))
        recs.append({"ecg_id": ecg_id, "patient_id": pid, "age": 50, "sex": fold % 2, "report": report,
                     "scp_codes": str(codes), "strat_fold": fold, "filename_lr": f"records100/00000/{name}",
                     "filename_hr": f"records500/00000/{ecg_id:05d}_hr"})
    pd.DataFrame(recs).to_csv(root / "ptbxl_database.csv", index=False)
    return root


def test_tiny_ptbxl_labels_splits_text(tmp_path):
    root = make_ptbxl(tmp_path, [
        (1, 10.0, 1, {"NORM": 100.0, "SR": 0.0}, "sinusrhythmus normales ekg"),
        (2, 11.0, 9, {"IMI": 50.0, "CRBBB": 100.0}, None),
        (3, None, 10, {"AFIB": 0.0, "LAFB": 100.0}, ""),
    ])
    ds = PTBXL(root)
    assert len(ds) == 3
    assert ds.table["split"].tolist() == ["train", "val", "test"]
    assert ds.table["patient_id"].tolist() == ["10", "11", None]
    assert ds.table["text"].tolist() == ["sinusrhythmus normales ekg", None, None]
    y, classes = ds.labels("superdiagnostic")
    assert classes == ("CD", "MI", "NORM")
    np.testing.assert_array_equal(y, [[0, 0, 1], [1, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(ds.labels("AF")[0][:, 0], [0, 0, 1])
    np.testing.assert_array_equal(ds.labels("CD")[0][:, 0], [0, 1, 1])
    np.testing.assert_array_equal(ds.labels("rhythm")[0], [[0, 1], [0, 0], [1, 0]])  # AFIB, SR
    # likelihood 0.0 still counts (the benchmark convention)
    assert ds.labels("all")[0][0, ds.label_sets["all"].classes.index("SR")] == 1
    stmt = PTBXL(root, text_source="statements")
    assert stmt.table["text"][1] == "inferior myocardial infarction. complete right bundle branch block."
    rec = ds.read(0)
    assert rec.signal.shape == (12, 1000) and rec.observed.all() and rec.fs == 100
    np.testing.assert_allclose(rec.signal[5, :5], 0.55, atol=1e-3)  # aVF column landed in row 5


def test_fold_override_and_missing_files_noted(tmp_path):
    root = make_ptbxl(tmp_path, [(1, 1.0, 1, {"NORM": 100}, ""), (2, 2.0, 2, {"NORM": 100}, "")], write={1})
    ds = PTBXL(root, folds={"train": (2,), "val": (), "test": (1,)})
    assert len(ds) == 1 and ds.notes and "partial download" in ds.notes[0]
    assert ds.table["split"].tolist() == ["test"]
    keep = PTBXL(root, require_files=False)
    assert len(keep) == 2
    with pytest.raises(EcgDataError, match="00002_lr"):
        keep.read(1)
    assert [i for i, _ in keep.iter_records(progress=False)] == [0]
    assert len(keep.problems) == 1 and keep.problems[0].record_id == "2"


def test_bad_database(tmp_path):
    root = make_ptbxl(tmp_path, [(1, 1.0, 1, {"XYZ": 100}, "")])
    with pytest.raises(EcgDataError, match=r"ptbxl_database.csv: scp_codes.*XYZ"):
        PTBXL(root)
    db = pd.read_csv(root / "ptbxl_database.csv").drop(columns="strat_fold")
    db.to_csv(root / "ptbxl_database.csv", index=False)
    with pytest.raises(EcgDataError, match="strat_fold"):
        PTBXL(root)
    with pytest.raises(EcgDataError, match="no such file"):
        PTBXL(tmp_path / "nope")


def test_wrong_fs_in_header(tmp_path):
    root = make_ptbxl(tmp_path, [(1, 1.0, 1, {"NORM": 100}, "")])
    hea = root / "records100/00000/00001_lr.hea"
    hea.write_text(hea.read_text().replace(" 100 1000", " 250 1000", 1))
    with pytest.raises(EcgDataError, match=r"00001_lr.hea: sampling rate: 250.0 Hz"):
        PTBXL(root).read(0)


def test_real_ptbxl(ptbxl_root):
    ds = PTBXL(ptbxl_root)
    # counts from ../shared/data/README.md (the share grew on 2026-12-03: folds 2-4 added)
    assert len(ds) == 13103
    assert ds.table["fold"].value_counts().to_dict() == {
        1: 2175, 2: 2181, 3: 2192, 4: 2174, 9: 2183, 10: 2198}
    assert {k: len(v.classes) for k, v in ds.label_sets.items()} == {
        "superdiagnostic": 5, "subdiagnostic": 23, "diagnostic": 44, "form": 19, "rhythm": 12,
        "all": 71, "AF": 1, "CD": 1}
    y, classes = ds.labels("superdiagnostic")
    assert y.sum(0).min() > 500
    # every row now has its real patient id (11,343 patients, folds patient-disjoint)
    assert ds.table["patient_id"].isna().sum() == 0
    assert ds.table["patient_id"].nunique() == 11343
    assert ds.table.groupby("patient_id")["fold"].nunique().max() == 1
    rec = ds.read(0)
    assert rec.signal.dtype == np.float32 and rec.signal.shape == (12, 1000)
    assert np.abs(rec.signal).max() < 20  # millivolts, not ADC units
    # Einthoven's law holds on real data within quantisation (III = II - I)
    np.testing.assert_allclose(rec.signal[2], rec.signal[1] - rec.signal[0], atol=0.01)
    en = PTBXL(ptbxl_root, text_source="report_en")
    test_rows = en.table[en.table["split"] == "test"]
    assert test_rows["text"].notna().sum() >= 500
    hr = PTBXL(ptbxl_root, fs=500)
    assert len(hr) == 200 and hr.read(0).signal.shape == (12, 5000)
