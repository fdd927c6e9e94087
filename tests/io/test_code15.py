"""CODE-15% reader on tiny exams.csv + HDF5 files written in the release's layout."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

from ecgfoundry.errors import EcgDataError  # noqa: E402
from ecgfoundry.io.code15 import CLASSES, CODE15, padding_mask  # noqa: E402

N_T = 64  # stands in for 4096
HEADER = ("exam_id,age,is_male,nn_predicted_age,1dAVb,RBBB,LBBB,SB,ST,AF,patient_id,death,timey,"
          "normal_ecg,trace_file")


def tracing(valid=N_T, flat_lead=None):
    """Lead k constant (k + 1) / 10 mV over ``valid`` centred samples, zero padding around."""
    x = np.zeros((N_T, 12), dtype=np.float32)
    start = (N_T - valid) // 2
    x[start:start + valid] = (np.arange(12) + 1) / 10.0
    if flat_lead is not None:
        x[:, flat_lead] = 0.0
    return x


def write_h5(path, exam_ids, tracings):
    with h5py.File(path, "w") as f:
        f["tracings"] = np.stack(tracings)
        f["exam_id"] = np.asarray(exam_ids, dtype=np.int64)


def csv_line(exam_id, patient, labels=(), trace_file="exams_part0.hdf5", age=50, male=True):
    flags = ["True" if c in labels else "False" for c in CLASSES]
    return ",".join([str(exam_id), str(age), str(male), "48.5", *flags, str(patient), "False", "3.2",
                     "False", trace_file])


@pytest.fixture
def root(tmp_path):
    lines = [HEADER,
             csv_line(101, 1, ("AF",)),
             csv_line(102, 1, ("RBBB", "1dAVb"), male=False),
             csv_line(103, 2, ()),
             csv_line(201, 3, ("LBBB", "SB"), trace_file="exams_part1.hdf5"),
             csv_line(202, 4, ("ST",), trace_file="exams_part1.hdf5")]
    (tmp_path / "exams.csv").write_text("\n".join(lines) + "\n")
    write_h5(tmp_path / "exams_part0.hdf5", [101, 102, 103],
             [tracing(), tracing(valid=44), tracing(flat_lead=8)])
    write_h5(tmp_path / "exams_part1.hdf5", [201, 202], [tracing(), tracing()])
    return tmp_path


def test_table_labels_meta(root):
    ds = CODE15(root)
    assert list(ds.table["record_id"]) == ["101", "102", "103", "201", "202"]
    assert ds.notes == []
    y, classes = ds.labels()
    assert classes == CLASSES == ("1dAVb", "RBBB", "LBBB", "SB", "ST", "AF")
    np.testing.assert_array_equal(y, [[0, 0, 0, 0, 0, 1], [1, 1, 0, 0, 0, 0], [0] * 6,
                                      [0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 1, 0]])
    np.testing.assert_array_equal(ds.labels("AF")[0][:, 0], [1, 0, 0, 0, 0])
    np.testing.assert_array_equal(ds.labels("CD")[0][:, 0], [0, 1, 0, 1, 0])
    assert list(ds.table["sex"]) == ["M", "F", "M", "M", "M"]
    assert ds.table["patient_id"][1] == "1" and ds.table["age"][0] == 50.0


def test_read_order_units_and_padding(root):
    ds = CODE15(root)
    rec = ds.read("102")
    assert rec.fs == 400.0 and rec.signal.shape == (12, N_T) and rec.patient_id == "1"
    np.testing.assert_allclose(rec.signal[:, N_T // 2], (np.arange(12) + 1) / 10.0, rtol=1e-6)
    # 44 valid samples centred: 10 padding samples each side are unobserved for every lead
    assert not rec.observed[:, :10].any() and not rec.observed[:, -10:].any()
    assert rec.observed[:, 10:54].all() and rec.meta["n_padding"] == 20
    full = ds.read("101")
    assert full.observed.all()
    flat = ds.read("103")
    assert not flat.observed[8].any() and flat.observed[np.arange(12) != 8].all()
    assert ds.header(3) == (400.0, N_T)


def test_interior_zero_run_stays_observed():
    x = tracing()
    x[30:33] = 0.0
    assert not padding_mask(x).any()
    assert padding_mask(np.zeros((5, 12))).all()


def test_handles_kept_open(root, monkeypatch):
    ds = CODE15(root)
    opened = []
    real = h5py.File
    monkeypatch.setattr(h5py, "File", lambda *a, **k: opened.append(a[0]) or real(*a, **k))
    for _ in range(3):
        ds.read("101")
        ds.read("201")
    assert opened == []
    clone = pickle.loads(pickle.dumps(ds))  # handles are dropped and reopened once
    clone.read("101")
    clone.read("102")
    assert len(opened) == 1
    ds.close()
    clone.close()


def test_patient_wise_splits(tmp_path):
    lines = [HEADER] + [csv_line(1000 + i, i // 3) for i in range(120)]
    (tmp_path / "exams.csv").write_text("\n".join(lines) + "\n")
    write_h5(tmp_path / "exams_part0.hdf5", [1000 + i for i in range(120)], [tracing()] * 120)
    ds = CODE15(tmp_path, seed=3)
    per_patient = ds.table.groupby("patient_id")["split"].nunique()
    assert (per_patient == 1).all()
    assert set(ds.table["split"]) == {"train", "val", "test"}
    other = CODE15(tmp_path, seed=4)
    assert list(other.table["split"]) != list(ds.table["split"])


def test_partial_download_noted_not_silent(root):
    (root / "exams_part1.hdf5").unlink()
    ds = CODE15(root)
    assert list(ds.table["record_id"]) == ["101", "102", "103"]
    assert len(ds.notes) == 1 and "2 exam(s)" in ds.notes[0] and "exams_part1.hdf5" in ds.notes[0]


def test_exam_absent_from_hdf5_is_named(root):
    write_h5(root / "exams_part1.hdf5", [201, 999], [tracing(), tracing()])
    ds = CODE15(root)
    assert "202" in set(ds.table["record_id"])
    assert any("999" in n and "no row in exams.csv" in n for n in ds.notes)
    with pytest.raises(EcgDataError) as info:
        ds.read("202")
    assert "exams_part1.hdf5" in str(info.value) and info.value.field == "exam_id"
    assert "202" in str(info.value)
    got = [ds.table["record_id"][i] for i, _ in ds.iter_records(progress=False)]
    assert got == ["101", "102", "103", "201"]
    assert [p.record_id for p in ds.problems] == ["202"]


def test_corrupt_hdf5_fails_on_read_only(root):
    (root / "exams_part1.hdf5").write_bytes(b"not an hdf5 file at all" * 10)
    ds = CODE15(root)
    assert any("exams_part1.hdf5" in n for n in ds.notes)
    with pytest.raises(EcgDataError, match="exams_part1.hdf5: not a readable HDF5 file"):
        ds.read("201")
    list(ds.iter_records(progress=False))
    assert [p.record_id for p in ds.problems] == ["201", "202"]


def test_hdf5_without_tracings(root):
    with h5py.File(root / "exams_part1.hdf5", "w") as f:
        f["exam_id"] = np.array([201, 202])
    with pytest.raises(EcgDataError, match="exams_part1.hdf5: tracings: dataset missing"):
        CODE15(root).read("201")


def test_nan_samples_never_leave(root):
    x = tracing()
    x[5:9, 2] = np.nan
    write_h5(root / "exams_part1.hdf5", [201, 202], [x, tracing()])
    rec = CODE15(root).read("201")
    assert np.isfinite(rec.signal).all() and not rec.observed[2, 5:9].any() and rec.observed[2, 9:].all()


@pytest.mark.parametrize("old, new, bad, match", [
    ("103,50,True,48.5,False", "103,50,True,48.5,maybe", "103", r"exams.csv: line 4: 1dAVb: expected True or False"),
    ("103,50,True", "103,50,yes please", "103", r"exams.csv: line 4: is_male: expected True or False"),
    ("\n103,", "\n10x3,", "10x3", r"exams.csv: line 4: exam_id: not an integer"),
    ("3.2,False,exams_part0.hdf5\n103", "3.2,False,exams_part0.hdf5\n103", None, None),
    ("\n202,", "\n103,", "103", r"exams.csv: lines 4, 6: exam_id: exam 103 is listed 2 times"),
], ids=["label", "is_male", "exam_id", "control", "duplicate"])
def test_bad_row_skipped_and_named(root, old, new, bad, match):
    path = root / "exams.csv"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    ds = CODE15(root)
    if bad is None:  # an untouched file: nothing skipped (the test can tell a fault from none)
        assert len(ds) == 5 and not ds.row_problems
        return
    assert bad not in set(ds.table["record_id"]) and len(ds) == (3 if "listed" in match else 4)
    assert [p.record_id for p in ds.row_problems] == [bad]
    assert re.search(match, ds.row_problems[0].message) and re.search(match, ds.problem_summary())
    assert len(list(ds.iter_records(progress=False))) == len(ds)  # the good rows load
    with pytest.raises(EcgDataError, match=match):
        CODE15(root, errors="raise")


def test_exam_read_alone_by_id(root):
    from ecgfoundry.io.code15 import read_code15_exam

    ds = CODE15(root)
    for key in (202, "202"):  # by exam id, not by row position
        rec = ds.read_exam(key)
        assert rec.record_id == "202" and rec.labels == ("ST",) and rec.meta["exam_id"] == 202
    with pytest.raises(KeyError, match="no exam 999"):
        ds.read_exam(999)
    alone = read_code15_exam(root / "exams_part1.hdf5", 202)  # no exams.csv needed
    np.testing.assert_array_equal(alone.signal, ds.read_exam(202).signal)
    assert alone.labels == () and alone.meta["n_leads"] == 12
    with pytest.raises(EcgDataError, match=r"exams_part1.hdf5: exam_id: exam 101 is not in this file"):
        read_code15_exam(root / "exams_part1.hdf5", 101)
    with pytest.raises(EcgDataError, match="missing HDF5 file"):
        read_code15_exam(root / "absent.hdf5", 101)


def test_missing_column_and_empty_folder(root, tmp_path_factory):
    text = (root / "exams.csv").read_text().replace(",AF,", ",Afib,")
    (root / "exams.csv").write_text(text)
    with pytest.raises(EcgDataError, match=r"exams.csv: AF: required column"):
        CODE15(root)
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(EcgDataError, match="empty"):
        CODE15(empty)


def test_no_hdf5_at_all_is_error(root):
    for p in root.glob("*.hdf5"):
        p.unlink()
    with pytest.raises(EcgDataError, match="exams.csv: no exam has its HDF5 file"):
        CODE15(root)


def test_open_dataset_detects_code15(root):
    from ecgfoundry.io import open_dataset

    ds = open_dataset(root)
    assert isinstance(ds, CODE15) and len(ds) == 5
    ds.close()


def test_corrupt_hdf5_internals_become_data_errors(root):
    raw = bytearray((root / "exams_part1.hdf5").read_bytes())
    rng = np.random.default_rng(0)
    raised = 0
    for _ in range(20):  # scribble over metadata: h5py then raises KeyError / RuntimeError / OSError inside
        corrupt = bytearray(raw)
        for k in rng.integers(0, 2048, size=30):
            corrupt[int(k)] = int(rng.integers(0, 256))
        (root / "exams_part1.hdf5").write_bytes(bytes(corrupt))
        ds = CODE15(root)
        for i in range(len(ds)):
            try:  # anything but EcgDataError escaping fails the test
                ds.read(i)
                ds.header(i)
            except EcgDataError as err:
                raised += 1
                assert "exams_part1.hdf5" in str(err)
        ds.close()
    assert raised > 0  # the corruptions did reach the reader, and every one came back as a named EcgDataError


def test_unrelated_hdf5_below_root_ignored(root):
    (root / "cache").mkdir()
    with h5py.File(root / "cache" / "embeddings.h5", "w") as f:
        f["x"] = np.zeros(3)
    ds = CODE15(root)
    assert ds.notes == [] and len(ds) == 5


def test_blank_trace_file_resolved_by_exam_id(root):
    text = (root / "exams.csv").read_text().replace("False,exams_part1.hdf5\n202", "False,\n202")
    text = text.replace("3.2,False,exams_part1.hdf5", "3.2,False,")
    (root / "exams.csv").write_text(text)
    ds = CODE15(root)
    assert ds.table["path"][3].endswith("exams_part1.hdf5") and ds.table["trace_file"][3] is None
    np.testing.assert_allclose(ds.read("202").signal[:, 0], (np.arange(12) + 1) / 10.0, rtol=1e-6)
