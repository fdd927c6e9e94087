"""Generic WFDB folder + records.csv reader."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

wfdb = pytest.importorskip("wfdb")

from ecgfoundry.errors import EcgDataError  # noqa: E402
from ecgfoundry.io.wfdb_folder import WFDBFolder, parse_labels  # noqa: E402
from ecgfoundry.signals.leads import LEADS  # noqa: E402

N = 120


def write_record(root, rec, names=LEADS, fs=250, flat=()):
    path = root / rec
    path.parent.mkdir(parents=True, exist_ok=True)
    sig = np.tile([0.0 if n in flat else (LEADS.index(n) + 1) / 10.0 for n in names], (N, 1))
    wfdb.wrsamp(path.name, fs=fs, units=["mV"] * len(names), sig_name=list(names), p_signal=sig,
                fmt=["16"] * len(names), write_dir=str(path.parent))


def write_csv(root, header, rows, name="records.csv"):
    (root / name).write_text("\n".join([header] + rows) + "\n")


@pytest.fixture
def root(tmp_path):
    for i in range(1, 5):
        write_record(tmp_path, f"records/{i:05d}")
    write_record(tmp_path, "records/00005", names=("V6", "V1", "II"), flat=("V1",))
    write_csv(tmp_path, "record,labels,text,patient_id,age,sex,site", [
        "records/00001,AF;LBBB,atrial fibrillation and LBBB,p1,70,M,a",
        "records/00002,NORM,normal ECG,p1,71,male,a",
        "records/00003,CD,,p2,,F,b",
        "records/00004,AF,af,p3,40,female,b",
        "records/00005,RBBB; AF,,p4,55,0,c",
    ])
    (tmp_path / "evidence.json").write_text("{}")  # extra files are ignored
    return tmp_path


def test_table_labels_and_meta(root):
    ds = WFDBFolder(root)
    assert list(ds.table["record_id"]) == [f"records/{i:05d}" for i in range(1, 6)]
    assert ds.notes == []
    y, classes = ds.labels()
    assert classes == ("AF", "CD", "LBBB", "NORM", "RBBB")
    np.testing.assert_array_equal(y, [[1, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 1, 0, 0, 0], [1, 0, 0, 0, 0],
                                      [1, 0, 0, 0, 1]])
    np.testing.assert_array_equal(ds.labels("AF")[0][:, 0], [1, 0, 0, 1, 1])
    np.testing.assert_array_equal(ds.labels("CD")[0][:, 0], [0, 0, 1, 0, 0])
    assert list(ds.table["sex"]) == ["M", "M", "F", "F", "M"]
    assert np.isnan(ds.table["age"][2]) and ds.table["text"][2] is None
    assert list(ds.table["site"]) == ["a", "a", "b", "b", "c"]
    assert set(ds.label_sets) == {"all", "AF", "CD"}


def test_parse_labels():
    assert parse_labels(" AF ;; LBBB;AF ") == ("AF", "LBBB")
    assert parse_labels(float("nan")) == () and parse_labels("") == ()


def test_read_record(root):
    ds = WFDBFolder(root, dataset="synthetic")
    rec = ds.read(0)
    assert rec.dataset == "synthetic" and rec.fs == 250.0 and rec.patient_id == "p1"
    np.testing.assert_allclose(rec.signal[:, 0], (np.arange(12) + 1) / 10.0, atol=1e-3)
    assert rec.observed.all() and rec.labels == ("AF", "LBBB") and rec.meta["site"] == "a"
    few = ds.read(4)  # V6, V1 (flat), II
    assert few.observed[[LEADS.index("II"), LEADS.index("V6")]].all()
    assert few.observed.sum() == 2 * N
    assert few.signal[LEADS.index("V6"), 0] == pytest.approx(1.2, abs=1e-3)
    assert ds.header(2) == (250.0, N)


def test_patient_wise_hashed_splits(tmp_path):
    rows = [f"r/{i},,{i // 5}" for i in range(300)]
    write_csv(tmp_path, "record,text,patient_id", rows)
    (tmp_path / "r").mkdir()
    for i in range(300):  # opening checks that each header exists; the split needs nothing more
        (tmp_path / "r" / f"{i}.hea").write_text("")
    ds = WFDBFolder(tmp_path, seed=1)
    assert len(ds) == 300 and not ds.notes and not ds.row_problems
    assert (ds.table.groupby("patient_id")["split"].nunique() == 1).all()
    assert set(ds.table["split"]) == {"train", "val", "test"}
    assert list(WFDBFolder(tmp_path, seed=2).table["split"]) != list(ds.table["split"])


def test_split_and_fold_columns(root):
    write_csv(root, "record,split", [f"records/{i:05d},{s}" for i, s in
                                     zip(range(1, 6), ["train", "val", "test", "TRAIN", "validation"])])
    assert list(WFDBFolder(root).table["split"]) == ["train", "val", "test", "train", "val"]
    write_csv(root, "record,fold", [f"records/{i:05d},{f}" for i, f in zip(range(1, 6), [1, 9, 10, 3, 5])])
    assert list(WFDBFolder(root).table["split"]) == ["train", "val", "test", "train", "train"]
    ds = WFDBFolder(root, folds={"train": (1, 3), "val": (5,), "test": (9, 10)})
    assert list(ds.table["split"]) == ["train", "test", "test", "train", "val"]
    assert list(ds.table["fold"]) == [1, 9, 10, 3, 5]


@pytest.mark.parametrize("header, row, match", [
    ("record,split", "records/00001,holdout", r"records.csv: line 3: split: expected one of"),
    ("record,fold", "records/00001,x", r"records.csv: line 3: fold: not an integer"),
    ("record,labels", ",AF", r"records.csv: line 3: record: blank"),
    ("record,labels", "records/00001,", r"records.csv: line 3: labels: record records/00001: empty label set"),
    ("record,labels", "records/00009,AF", r"records.csv: line 3: record: names record 'records/00009' but"),
])
def test_bad_row_skipped_and_named(root, header, row, match):
    good = {"record,split": "records/00002,train", "record,fold": "records/00002,3"}.get(header, "records/00002,AF")
    write_csv(root, header, [good, row])
    ds = WFDBFolder(root)
    # the bad row is left out, named with the CSV, the line, the column and the reason; the good one loads
    assert list(ds.table["record_id"]) == ["records/00002"] and len(list(ds.iter_records(progress=False))) == 1
    assert len(ds.row_problems) == 1 and ds.row_problems[0].stage == "table"
    assert re.search(match, ds.row_problems[0].message) and re.search(match, ds.problem_summary())
    with pytest.raises(EcgDataError, match=match):  # fail-fast stops at the row
        WFDBFolder(root, errors="raise")


def test_missing_column_and_no_good_row(root):
    write_csv(root, "rec,labels", ["records/00001,AF"])
    with pytest.raises(EcgDataError, match=r"records.csv: record: required column"):
        WFDBFolder(root)
    write_csv(root, "record,labels", ["records/00001,", "records/00002,"])
    with pytest.raises(EcgDataError, match=r"records.csv: no usable row: .*line 2: labels"):
        WFDBFolder(root)


def test_label_sets_json(root):
    spec = {"rhythm": {"classes": ["AFIB", "OTHER"], "mapping": {"AF": ["AFIB"], "RBBB": "OTHER"}},
            "CD": {"classes": ["CD"], "mapping": {"CD": ["CD"], "LBBB": ["CD"], "RBBB": ["CD"]}}}
    (root / "label_sets.json").write_text(json.dumps(spec))
    ds = WFDBFolder(root)
    y, classes = ds.labels("rhythm")
    assert classes == ("AFIB", "OTHER")
    np.testing.assert_array_equal(y, [[1, 0], [0, 0], [0, 0], [1, 0], [1, 1]])
    np.testing.assert_array_equal(ds.labels("CD")[0][:, 0], [1, 0, 1, 0, 1])  # json wins
    assert any("redefines CD" in n for n in ds.notes)


@pytest.mark.parametrize("text, match", [
    ("{not json", r"label_sets.json: unreadable JSON"),
    (json.dumps({"x": {"classes": []}}), r"label_sets.json: x.classes"),
    (json.dumps({"x": {"classes": ["A"], "mapping": {"AF": ["B"]}}}), r"label_sets.json: x.mapping"),
])
def test_bad_label_sets_json(root, text, match):
    (root / "label_sets.json").write_text(text)
    with pytest.raises(EcgDataError, match=match):
        WFDBFolder(root)


def test_absent_record_named_and_skipped(root):
    for ext in (".hea", ".dat"):
        (root / "records" / f"00003{ext}").unlink()
    ds = WFDBFolder(root)
    assert list(ds.table["record_id"]) == ["records/00001", "records/00002", "records/00004", "records/00005"]
    assert len(ds.row_problems) == 1 and ds.row_problems[0].record_id == "records/00003"
    msg = ds.row_problems[0].message
    assert "records.csv" in msg and "line 4" in msg and "records/00003" in msg
    got = [i for i, _ in ds.iter_records(progress=False)]
    assert got == [0, 1, 2, 3] and not ds.problems
    # a record deleted after opening still fails when read, naming the CSV line
    for ext in (".hea", ".dat"):
        (root / "records" / f"00004{ext}").unlink()
    with pytest.raises(EcgDataError, match=r"records.csv: line 5: record"):
        ds.read(2)


def test_unlisted_record_on_disk_is_reported(root):
    write_record(root, "records/extra/00099")
    ds = WFDBFolder(root)
    assert len(ds) == 5
    assert any("1 record(s) on disk are in no row of records.csv" in n and "records/extra/00099" in n
               for n in ds.notes)


def test_broken_files_in_skip_mode(root):
    hea = root / "records" / "00001.hea"
    lines = hea.read_text().splitlines()
    hea.write_text("\n".join(["00001 12"] + lines[1:]) + "\n")  # record line without fs
    (root / "records" / "00002.dat").unlink()
    hea4 = root / "records" / "00004.hea"
    hea4.write_text(hea4.read_text().replace(" V3", " Pleth"))
    ds = WFDBFolder(root)
    with pytest.raises(EcgDataError, match="00001.hea: sampling rate"):
        ds.read(0)
    with pytest.raises(EcgDataError, match="00002.dat: signal file: missing"):
        ds.read(1)
    with pytest.raises(EcgDataError, match="00004.hea: signal names: unknown lead name 'Pleth'"):
        ds.read(3)
    got = [i for i, _ in ds.iter_records(progress=False)]
    assert got == [2, 4]
    assert [p.record_id for p in ds.problems] == ["records/00001", "records/00002", "records/00004"]
    with pytest.raises(EcgDataError):
        list(WFDBFolder(root).iter_records(errors="raise", progress=False))


def test_empty_folder_and_empty_csv(tmp_path):
    with pytest.raises(EcgDataError, match="empty"):
        WFDBFolder(tmp_path)
    (tmp_path / "records.csv").write_text("record,labels\n")
    with pytest.raises(EcgDataError, match="records.csv: no rows"):
        WFDBFolder(tmp_path)
    (tmp_path / "records.csv").write_text("")
    with pytest.raises(EcgDataError, match="records.csv: empty file"):
        WFDBFolder(tmp_path)


def test_duplicate_record(root):
    write_csv(root, "record,labels", ["records/00001,AF", "records/00002,AF", "records/00001,LBBB"])
    ds = WFDBFolder(root)  # which of the two rows is right cannot be told: both are left out
    assert list(ds.table["record_id"]) == ["records/00002"]
    assert [p.record_id for p in ds.row_problems] == ["records/00001"]
    assert "records.csv: lines 2, 4: record_id: record records/00001 is listed 2 times" in ds.row_problems[0].message
    with pytest.raises(EcgDataError, match="listed 2 times"):
        WFDBFolder(root, errors="raise")


def test_open_dataset_detects_folder(root):
    from ecgfoundry.io import open_dataset

    ds = open_dataset(root, seed=3, dataset="mine")
    assert isinstance(ds, WFDBFolder) and ds.name == "mine"
    # An option the reader does not take is named with the folder and the reader's own options.
    with pytest.raises(ValueError, match=r"wfdb_folder dataset has no option 'fs' \(its options: table, folds"):
        open_dataset(root, fs=500)


def test_text_from_label_descriptions(root):
    (root / "dataset.json").write_text(json.dumps({"label_descriptions": {
        "AF": "atrial fibrillation", "LBBB": "left bundle branch block."}}))
    text = list(WFDBFolder(root, text_source="labels").table["text"])
    # Described labels become sentences in the record's label order; an undescribed one keeps its name;
    # a record without labels has no text (the report column is not used).
    assert text == ["Atrial fibrillation. Left bundle branch block.", "NORM.", "CD.", "Atrial fibrillation.",
                    "RBBB. Atrial fibrillation."]
    assert list(WFDBFolder(root).table["text"])[:2] == ["atrial fibrillation and LBBB", "normal ECG"]


def test_text_source_errors(root):
    with pytest.raises(ValueError, match="text_source"):
        WFDBFolder(root, text_source="statements")
    (root / "dataset.json").write_text(json.dumps({"label_descriptions": ["AF"]}))
    with pytest.raises(EcgDataError, match="label_descriptions"):
        WFDBFolder(root, text_source="labels")
