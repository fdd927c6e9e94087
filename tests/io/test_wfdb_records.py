"""Folders of WFDB records without an index (MIT-BIH-like, PTB-Diagnostic-like), LUDB, and the
detection that tells them apart from challenge folders and points at the right folder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

wfdb = pytest.importorskip("wfdb")

from ecgfoundry.errors import EcgDataError  # noqa: E402
from ecgfoundry.io import open_dataset  # noqa: E402
from ecgfoundry.io.detect import detect_format  # noqa: E402
from ecgfoundry.io.inspect import summarize  # noqa: E402
from ecgfoundry.io.ludb import LUDB, statement_classes  # noqa: E402
from ecgfoundry.io.wfdb_folder import WFDBFolder  # noqa: E402
from ecgfoundry.io.wfdb_records import WFDBRecords, demographics  # noqa: E402
from ecgfoundry.signals.leads import LEADS  # noqa: E402

from .test_never_scrambled import challenge_record, dat_record  # noqa: E402

LUDB_LEADS = ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6")


def add_comments(rec, lines):
    hea = rec.with_suffix(".hea")
    hea.write_text(hea.read_text() + "".join(f"#{ln}\n" for ln in lines))


@pytest.fixture
def mitdb(tmp_path):
    """Two 2-lead records at 360 Hz, 90 s each (MIT-BIH stands at 30 min: same shape, smaller)."""
    root = tmp_path / "mitdb"
    for name, second in (("100", "V5"), ("101", "V1")):
        t = np.arange(360 * 90) / 360
        values = np.stack([np.sin(2 * np.pi * t), 0.5 * np.cos(2 * np.pi * t)], axis=1)
        rec = dat_record(root, name, names=("MLII", second), n=len(t), fs=360, values=values)
        add_comments(rec, [" 69 M 1085 1629 x1", " Aldomet, Inderal"])
    return root


def test_plain_wfdb_folder_opens_without_labels(mitdb):
    assert detect_format(mitdb) == "wfdb"
    ds = open_dataset(mitdb)
    assert isinstance(ds, WFDBRecords) and list(ds.table["record_id"]) == ["100", "101"]
    assert ds.table["age"].tolist() == [69.0, 69.0] and ds.table["sex"].tolist() == ["M", "M"]
    assert not ds.label_sets  # never offered a label set it does not have
    with pytest.raises(KeyError, match="has no labels.*--table"):
        ds.labels()
    rec = ds.read(0)
    assert rec.fs == 360 and rec.n_samples == 360 * 90 and rec.meta["n_leads"] == 2
    assert rec.observed.any(axis=1).tolist() == [ld in ("II", "V5") for ld in LEADS]
    s = summarize(ds, progress=False)
    assert s.lead_counts == {"2 of 12 (II, V5)": 1, "2 of 12 (II, V1)": 1} and not s.problems
    long_note = [n for n in s.notes if "records last 1.5 min (median) at 360 Hz" in n]
    assert long_note and "2 of 12 (II, V5) × 1" in long_note[0]


def test_table_option_labels_a_plain_folder(mitdb):
    (mitdb / "mine.csv").write_text("record,labels,patient_id\n100,NORM,p1\n101,PVC;RBBB,p2\n")
    ds = open_dataset(mitdb, table="mine.csv")
    assert isinstance(ds, WFDBFolder) and ds.labels()[1] == ("NORM", "PVC", "RBBB")
    assert detect_format(mitdb) == "wfdb"  # the table is not records.csv: detection is unchanged


def test_ptb_diagnostic_like_folder(tmp_path):
    root = tmp_path / "ptbdb"
    rec = dat_record(root / "patient001", "s0010_re", names=LEADS + ("vx", "vy", "vz"), n=1000, fs=1000,
                     values=np.tile((np.arange(15) + 1) * 0.1, (1000, 1)))
    add_comments(rec, [" age: 81", " sex: female", " Reason for admission: Myocardial infarction"])
    assert detect_format(root) == "wfdb"
    ds = WFDBRecords(root)
    assert ds.table["record_id"].tolist() == ["patient001/s0010_re"]
    assert ds.table["age"][0] == 81 and ds.table["sex"][0] == "F"
    r = ds.read(0)
    assert r.observed.all() and r.meta["dropped_channels"] == "vx, vy, vz"
    s = summarize(ds, progress=False)
    assert any("carry channels that are not standard leads (vx, vy, vz)" in n for n in s.notes)


def test_demographics_forms():
    assert demographics(["Age: 61", "Sex: Female"]) == (61.0, "F")
    assert demographics(["<age>: >89 <sex>: M"]) == (90.0, "M")
    age, sex = demographics(["Aldomet"])
    assert np.isnan(age) and sex is None


def test_unreadable_header_is_a_row_problem(mitdb):
    (mitdb / "bad.hea").mkdir()  # a folder named like a header: it cannot be read as one
    ds = WFDBRecords(mitdb)
    assert len(ds) == 2 and [p.record_id for p in ds.row_problems] == ["bad"]
    assert "bad.hea: cannot read header" in ds.row_problems[0].message
    with pytest.raises(EcgDataError, match="bad.hea: cannot read header"):
        WFDBRecords(mitdb, errors="raise")


# --- LUDB ---------------------------------------------------------------------------------
LUDB_DIAGNOSES = {
    "1": ["Rhythm: Sinus rhythm.", "Electric axis of the heart: left.", "Left ventricular hypertrophy."],
    "2": ["Rhythm: Atrial fibrillation.", "Electric axis of the heart: normal.",
          "Incomplete right bundle branch block."],
    "3": ["Rhythm: Sinus bradycardia.", "I degree AV block.", "Complete left bundle branch block."],
}


@pytest.fixture
def ludb(tmp_path):
    root = tmp_path / "ludb"
    for rid, statements in LUDB_DIAGNOSES.items():
        rec = dat_record(root / "data", rid, names=LUDB_LEADS, n=500)
        add_comments(rec, [f"<age>: {50 + int(rid)}", f"<sex>: {'F' if rid == '1' else 'M'}", "<diagnoses>:"]
                     + statements)
    return root


def test_ludb_from_header_comments(ludb):
    assert detect_format(ludb) == "ludb"
    ds = open_dataset(ludb)
    assert isinstance(ds, LUDB) and list(ds.table["record_id"]) == ["1", "2", "3"]
    assert ds.table["codes"].tolist() == [("SR", "LAD", "LVH"), ("AF", "IRBBB"), ("SB", "IAVB", "LBBB")]
    assert ds.table["age"].tolist() == [51.0, 52.0, 53.0] and ds.table["sex"].tolist() == ["F", "M", "M"]
    assert ds.table["text"][0] == ("Rhythm: Sinus rhythm. Electric axis of the heart: left. "
                                   "Left ventricular hypertrophy.")
    np.testing.assert_array_equal(ds.labels("AF")[0][:, 0], [0, 1, 0])
    np.testing.assert_array_equal(ds.labels("CD")[0][:, 0], [0, 1, 1])
    assert any("match no class" in n and "axis of the heart: normal" in n for n in ds.notes)
    r = ds.read(2)
    assert r.observed.all() and r.labels == ("SB", "IAVB", "LBBB") and r.text.startswith("Rhythm: Sinus brady")


def test_ludb_csv_wins_and_bad_rows_skipped(ludb):
    dat_record(ludb / "data", "4", names=LUDB_LEADS, n=500)
    pd.DataFrame({
        "ID": ["1", "2", "3", "3", "9", "x", "4"],
        "Sex": ["F", "M", "M", "M", "F", "F", "M"], "Age": ["70", ">89", "40", "40", "30", "30", "20"],
        "Rhythms": ["Sinus rhythm", "Atrial flutter", "Sinus rhythm", "Sinus rhythm", "Sinus rhythm",
                    "Sinus rhythm", ""],
        "Electric axis of the heart": ["Electric axis of the heart: right", "", "", "", "", "", ""],
        "Hypertrophies": ["Right ventricular hypertrophy\nLeft atrial hypertrophy", "", "", "", "", "", ""],
    }).to_csv(ludb / "ludb.csv", index=False)
    assert detect_format(ludb) == "ludb"
    ds = LUDB(ludb)
    assert list(ds.table["record_id"]) == ["1", "2"]
    assert ds.table["codes"].tolist() == [("SR", "RAD", "RVH", "LAE"), ("AFL",)]
    assert ds.table["age"].tolist() == [70.0, 90.0]
    got = sorted((p.record_id, p.message.split("ludb.csv: ")[1]) for p in ds.row_problems)
    assert got == [("3", "lines 4, 5: ID: record 3 is listed 2 times; all its rows are left out"),
                   ("4", "line 8: diagnoses: record 4: every diagnosis column is blank (empty label set)"),
                   ("9", f"line 6: ID: names record 9 but 9.hea is not under {ludb}"),
                   ("x", "line 7: ID: not a record number: 'x'")]
    assert not any("no row in ludb.csv" in n for n in ds.notes)  # faulty rows are not "unlisted"
    dat_record(ludb / "data", "5", names=LUDB_LEADS, n=500)
    assert any("1 record(s) on disk have no row in ludb.csv" in n and ": 5" in n for n in LUDB(ludb).notes)
    with pytest.raises(EcgDataError, match="ludb.csv: line"):
        LUDB(ludb, errors="raise")


def test_ludb_header_without_diagnoses_reported(ludb):
    dat_record(ludb / "data", "4", names=LUDB_LEADS, n=500)  # no comments at all
    ds = LUDB(ludb)
    assert len(ds) == 3 and [p.record_id for p in ds.row_problems] == ["4"]
    assert "4.hea: # <diagnoses>: no '<diagnoses>' comment" in ds.row_problems[0].message


def test_statement_classes_table():
    cases = {"Sinus tachycardia.": ("STACH",), "Left anterior hemiblock.": ("LAFB",),
             "Pacemaker: ventricular pacing.": ("PACE",), "III degree AV block.": ("IIIAVB",),
             "Ventricular extrasystole(s).": ("PVC",), "Ischemia: anterior wall.": ("ISC",),
             "Non-specific repolarization abnormalities: posterior wall.": ("NSRA",),
             "Electric axis of the heart: vertical.": ()}
    assert {k: statement_classes(k) for k in cases} == cases


# --- detection ----------------------------------------------------------------------------
def test_detection_challenge_vs_plain(tmp_path):
    challenge_record(tmp_path / "c", "E1")
    assert detect_format(tmp_path / "c") == "challenge"
    dat_record(tmp_path / "w", "r1")
    assert detect_format(tmp_path / "w") == "wfdb"
    with pytest.raises(KeyError, match="no labels"):
        open_dataset(tmp_path / "w").labels()


def test_detection_points_at_the_dataset_folder(tmp_path, mitdb):
    ds_root = tmp_path / "ptbxl"
    from .test_row_faults import ptbxl, write_db

    write_db(ds_root, ptbxl(ds_root.mkdir() or ds_root, n=1))
    with pytest.raises(EcgDataError, match=r"records100: this folder is part of the ptbxl dataset at "
                                           r".*ptbxl; open that folder instead"):
        detect_format(ds_root / "records100")
    with pytest.raises(EcgDataError, match=r"not a dataset folder itself, but it holds 2 datasets below "
                                           r"it: .*mitdb \(wfdb\); .*ptbxl \(ptbxl\)"):
        detect_format(tmp_path)
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text("{}")
    with pytest.raises(EcgDataError, match="not a dataset folder ecgfoundry recognises"):
        detect_format(run)
    # the sub-folder is still readable as plain records when asked for
    assert len(open_dataset(ds_root / "records100", format="wfdb")) == 1
    # header-only datasets of different kinds below one folder: pointed at, not merged
    both = tmp_path / "both"
    challenge_record(both / "cinc", "E1")
    dat_record(both / "mitdb", "100", names=("MLII", "V1"))
    with pytest.raises(EcgDataError, match=r"records of different datasets below it: .*cinc \(challenge\); "
                                           r".*mitdb \(wfdb\)"):
        detect_format(both)
    assert open_dataset(both / "mitdb", dataset="mitdb").read(0).dataset == "mitdb"
