"""CPSC 2018 reader on tiny files written in the original release's format."""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.io

from ecgfoundry.errors import EcgDataError
from ecgfoundry.io.cpsc2018 import CLASSES, CPSC2018, parse_ecg_struct

T = 300


def lead_values(n=T):
    # lead k is the constant (k + 1) / 10 mV: any mix-up of rows shows
    return np.tile(((np.arange(12) + 1) / 10.0)[:, None], (1, n))


def write_mat(folder, rec, data=None, sex="Male", age=61):
    folder.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(folder / f"{rec}.mat",
                     {"ECG": {"sex": sex, "age": age, "data": lead_values() if data is None else data}})


def write_reference(root, rows):
    lines = ["Recording,First_label,Second_label,Third_label"]
    lines += [",".join([rec] + [str(x) for x in labels] + [""] * (3 - len(labels))) for rec, labels in rows]
    (root / "REFERENCE.csv").write_text("\n".join(lines) + "\n")


@pytest.fixture
def root(tmp_path):
    rows = [("A0001", [1]), ("A0002", [2, 5]), ("A0003", [3, 4, 9]), ("A0004", [7]), ("A0005", [6, 8])]
    for rec, _ in rows[:3]:
        write_mat(tmp_path / "TrainingSet1", rec)
    for rec, _ in rows[3:]:
        write_mat(tmp_path / "TrainingSet2", rec, sex="Female", age=40)
    write_reference(tmp_path, rows)
    return tmp_path


def test_table_and_labels(root):
    ds = CPSC2018(root)
    assert len(ds) == 5 and ds.notes == []
    assert list(ds.table["record_id"]) == ["A0001", "A0002", "A0003", "A0004", "A0005"]
    assert ds.table["codes"][2] == ("IAVB", "LBBB", "STE")
    y, classes = ds.labels("cpsc9")
    assert classes == CLASSES
    expected = np.zeros((5, 9), dtype=np.float32)
    for i, labels in enumerate([[1], [2, 5], [3, 4, 9], [7], [6, 8]]):
        expected[i, [lab - 1 for lab in labels]] = 1
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(ds.labels("AF")[0][:, 0], [0, 1, 0, 0, 0])
    np.testing.assert_array_equal(ds.labels("CD")[0][:, 0], [0, 1, 1, 0, 0])
    assert ds.get_label_set().name == "cpsc9"


def test_read_signal_meta_and_header(root):
    ds = CPSC2018(root)
    rec = ds.read("A0004")
    assert rec.fs == 500.0 and rec.signal.shape == (12, T) and rec.signal.dtype == np.float32
    np.testing.assert_allclose(rec.signal[:, 0], (np.arange(12) + 1) / 10.0, rtol=1e-6)
    assert rec.observed.all()
    assert rec.meta["sex"] == "F" and rec.meta["age"] == 40.0
    assert rec.labels == ("PVC",)
    assert ds.header(0) == (500.0, T)


def test_flat_and_nan_leads_unobserved(root):
    data = lead_values()
    data[7] = 0.0
    data[2, 10:20] = np.nan
    write_mat(root / "TrainingSet1", "A0001", data=data)
    rec = CPSC2018(root).read("A0001")
    assert not rec.observed[7].any()
    assert not rec.observed[2, 10:20].any() and rec.observed[2, :10].all()
    assert np.isfinite(rec.signal).all() and rec.observed.sum() == 11 * T - 10


def test_splits_are_seeded_and_complete(tmp_path):
    rows = [(f"A{i:04d}", [1 + i % 9]) for i in range(1, 61)]
    write_reference(tmp_path, rows)
    for rec, _ in rows:  # opening checks each .mat exists; the split needs nothing more
        (tmp_path / f"{rec}.mat").write_bytes(b"")
    a, b, c = CPSC2018(tmp_path, seed=0), CPSC2018(tmp_path, seed=0), CPSC2018(tmp_path, seed=1)
    assert set(a.table["split"]) == {"train", "val", "test"}
    assert list(a.table["split"]) == list(b.table["split"])
    assert list(a.table["split"]) != list(c.table["split"])


@pytest.mark.parametrize("kwargs", [{}, {"struct_as_record": False}, {"squeeze_me": True},
                                    {"squeeze_me": True, "struct_as_record": False},
                                    {"simplify_cells": True}])
def test_struct_any_loadmat_options(root, kwargs):
    mat = scipy.io.loadmat(root / "TrainingSet1" / "A0001.mat", **kwargs)
    data, sex, age = parse_ecg_struct(mat["ECG"], "A0001.mat")
    assert data.shape == (T, 12) and sex == "M" and age == 61.0
    np.testing.assert_allclose(data[0], (np.arange(12) + 1) / 10.0)


def test_absent_mat_named_with_reference(root):
    (root / "TrainingSet2" / "A0005.mat").unlink()
    ds = CPSC2018(root)  # the row is left out when the dataset opens, named with its line
    assert list(ds.table["record_id"]) == ["A0001", "A0002", "A0003", "A0004"]
    assert [p.record_id for p in ds.row_problems] == ["A0005"]
    assert "REFERENCE.csv: line 6: Recording: names recording A0005" in ds.row_problems[0].message
    assert len(list(ds.iter_records(progress=False))) == 4 and not ds.problems
    (root / "TrainingSet2" / "A0004.mat").unlink()  # deleted after opening: fails on read, named
    with pytest.raises(EcgDataError, match=r"REFERENCE.csv: line 5: Recording: names recording A0004"):
        ds.read("A0004")


def test_extra_mat_noted(root):
    write_mat(root, "A9999")
    ds = CPSC2018(root)
    assert "A9999" not in set(ds.table["record_id"])
    assert any("A9999" in n and "no row" in n for n in ds.notes)


@pytest.mark.parametrize("content", [b"MATLAB 5.0 MAT-file garbage" + b"\x00" * 10, None],
                         ids=["corrupt", "truncated"])
def test_corrupt_and_truncated_mat(root, content):
    path = root / "TrainingSet1" / "A0002.mat"
    path.write_bytes(content if content is not None else path.read_bytes()[:400])
    ds = CPSC2018(root)
    with pytest.raises(EcgDataError, match="corrupt or truncated") as info:
        ds.read("A0002")
    assert info.value.path.endswith("A0002.mat")
    list(ds.iter_records(progress=False))
    assert [p.record_id for p in ds.problems] == ["A0002"]


def test_wrong_data_shape_and_missing_struct(root):
    write_mat(root / "TrainingSet1", "A0001", data=np.zeros((8, 50)))
    scipy.io.savemat(root / "TrainingSet1" / "A0002.mat", {"something": np.zeros(3)})
    ds = CPSC2018(root)
    with pytest.raises(EcgDataError, match=r"A0001.mat: ECG.data: expected a 12 x T"):
        ds.read("A0001")
    with pytest.raises(EcgDataError, match=r"A0002.mat: ECG: no struct 'ECG'"):
        ds.read("A0002")


@pytest.mark.parametrize("rows, bad, match", [
    ([("A0001", [1]), ("A0002", [12])], "A0002", r"REFERENCE.csv: line 3: First_label: recording A0002: label '12'"),
    ([("A0001", [1]), ("A0002", ["x"])], "A0002", r"REFERENCE.csv: line 3: First_label: recording A0002: label 'x'"),
    ([("A0001", [1]), ("A0002", [])], "A0002", r"REFERENCE.csv: line 3: First_label: recording A0002: no label"),
    ([("A0001", [1]), ("", [2])], "line 3", r"REFERENCE.csv: line 3: Recording: blank"),
    ([("A0002", [1]), ("A0001", [2]), ("A0002", [3])], "A0002",
     r"REFERENCE.csv: lines 2, 4: Recording: A0002 is listed 2 times"),
], ids=["out-of-range", "not-a-number", "empty", "blank-name", "duplicate"])
def test_bad_row_skipped_and_named(root, rows, bad, match):
    write_reference(root, rows)
    ds = CPSC2018(root)
    assert list(ds.table["record_id"]) == ["A0001"]
    assert [p.record_id for p in ds.row_problems] == [bad]
    assert re.search(match, ds.row_problems[0].message) and re.search(match, ds.problem_summary())
    assert ds.read("A0001").labels  # the good rows load
    with pytest.raises(EcgDataError, match=match):
        CPSC2018(root, errors="raise")


def test_missing_reference_and_empty_folder(tmp_path):
    write_mat(tmp_path, "A0001")
    with pytest.raises(EcgDataError, match="REFERENCE.csv: missing file"):
        CPSC2018(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EcgDataError, match="empty"):
        CPSC2018(empty)
    (tmp_path / "REFERENCE.csv").write_text("Recording,First_label\n")
    with pytest.raises(EcgDataError, match="REFERENCE.csv: no rows"):
        CPSC2018(tmp_path)


def test_matlab_v73_file(root):
    h5py = pytest.importorskip("h5py")
    path = root / "TrainingSet1" / "A0003.mat"
    path.unlink()
    with h5py.File(path, "w", userblock_size=512) as f:
        g = f.create_group("ECG")
        g["data"] = lead_values().T  # MATLAB v7.3 stores 12 x T column-major: (T, 12) in HDF5
        g["sex"] = np.array([[ord(c)] for c in "Female"], dtype=np.uint16)
        g["age"] = np.array([[55.0]])
    with open(path, "r+b") as f:
        head = b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02IM"
        f.write(head)
    rec = CPSC2018(root).read("A0003")
    np.testing.assert_allclose(rec.signal[:, 5], (np.arange(12) + 1) / 10.0, rtol=1e-6)
    assert rec.meta["sex"] == "F" and rec.meta["age"] == 55.0


def test_open_dataset_detects_cpsc(root):
    from ecgfoundry.io import open_dataset

    assert isinstance(open_dataset(root, seed=2), CPSC2018)
