"""One bad index row never sinks a dataset: PTB-XL and challenge rows written here, damaged one way
at a time; the bad row is skipped and named with the file, the field and the reason, the rest
loads, and errors="raise" (--fail-fast) stops at it. (CPSC2018, CODE-15%, WFDB-folder and
MIMIC-IV-ECG rows: in their own test modules.)"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

wfdb = pytest.importorskip("wfdb")

from ecgfoundry.errors import EcgDataError  # noqa: E402
from ecgfoundry.io.challenge import Challenge  # noqa: E402
from ecgfoundry.io.inspect import summarize  # noqa: E402
from ecgfoundry.io.ptbxl import PTBXL  # noqa: E402
from ecgfoundry.signals.leads import LEADS  # noqa: E402

from .test_never_scrambled import challenge_record  # noqa: E402

STATEMENTS = pd.DataFrame(
    {"description": ["normal ECG", "atrial fibrillation", "sinus rhythm"],
     "diagnostic": [1, np.nan, np.nan], "form": [np.nan] * 3, "rhythm": [np.nan, 1, 1],
     "diagnostic_class": ["NORM", None, None], "diagnostic_subclass": ["NORM", None, None]},
    index=pd.Index(["NORM", "AFIB", "SR"]))


def ptbxl(root, n=4):
    """A PTB-XL folder of ``n`` good records (ecg_id 1..n) and its rows as a DataFrame."""
    folder = root / "records100" / "00000"
    folder.mkdir(parents=True)
    STATEMENTS.to_csv(root / "scp_statements.csv")
    rows = []
    for i in range(1, n + 1):
        sig = np.tile((np.arange(12) + 1) * 0.1, (1000, 1))
        wfdb.wrsamp(f"{i:05d}_lr", fs=100, units=["mV"] * 12, sig_name=list(LEADS), p_signal=sig,
                    fmt=["16"] * 12, adc_gain=[1000.0] * 12, baseline=[0] * 12, write_dir=str(folder))
        rows.append({"ecg_id": i, "patient_id": 100 + i, "age": 60, "sex": 0, "report": "sinus",
                     "scp_codes": str({"NORM": 100.0, "SR": 0.0}), "strat_fold": i,
                     "filename_lr": f"records100/00000/{i:05d}_lr", "filename_hr": f"records500/00000/{i:05d}_hr"})
    return pd.DataFrame(rows)


def write_db(root, df):
    df.to_csv(root / "ptbxl_database.csv", index=False)


@pytest.mark.parametrize("column, value, match", [
    ("scp_codes", "{'NORM': 100.0", r"scp_codes \(line 3, ecg_id 2\): not a dict literal"),
    ("scp_codes", "['NORM']", r"scp_codes \(line 3, ecg_id 2\): not a dict"),
    ("scp_codes", "{'XYZ': 100.0}", r"scp_codes \(line 3, ecg_id 2\): statement\(s\) not in scp_statements.csv: \['XYZ'\]"),
    ("scp_codes", "{}", r"scp_codes \(line 3, ecg_id 2\): empty: the record has no statement"),
    ("strat_fold", 11, r"strat_fold \(line 3, ecg_id 2\): must be a fold from 1 to 10, got 11"),
    ("strat_fold", 0, r"strat_fold \(line 3, ecg_id 2\): must be a fold from 1 to 10, got 0"),
    ("strat_fold", "", r"strat_fold \(line 3, ecg_id 2\): blank"),
    ("strat_fold", "two", r"strat_fold \(line 3, ecg_id 2\): not an integer: 'two'"),
    ("ecg_id", "2b", r"ecg_id \(line 3\): not an integer: '2b'"),
    ("ecg_id", 3, r"lines 3, 4: ecg_id: ecg_id 3 is listed 2 times"),
    ("patient_id", "p-12", r"patient_id \(line 3, ecg_id 2\): not an integer: 'p-12'"),
    ("filename_lr", "", r"filename_lr \(line 3, ecg_id 2\): blank file name"),
], ids=["unparseable", "not-dict", "unknown-code", "empty-codes", "fold-11", "fold-0", "fold-blank",
        "fold-text", "id-text", "id-duplicate", "patient-text", "file-blank"])
def test_ptbxl_bad_row_skipped(tmp_path, column, value, match):
    df = ptbxl(tmp_path)
    df[column] = df[column].astype(object)
    df.loc[1, column] = value
    write_db(tmp_path, df)
    ds = PTBXL(tmp_path)
    bad = {"2b": "2b", 3: "3"}.get(value, "2")
    expected = [r for r in ["1", "2", "3", "4"] if r not in ("2", "3")] if bad == "3" else ["1", "3", "4"]
    assert list(ds.table["record_id"]) == expected  # the rest of the dataset loads
    assert len(list(ds.iter_records(progress=False))) == len(expected) and not ds.problems
    assert [p.record_id for p in ds.row_problems] == [bad]
    msg = ds.row_problems[0].message
    assert msg.startswith(str(tmp_path / "ptbxl_database.csv")) and re.search(match, msg)
    assert re.search(match, ds.problem_summary())
    assert any(re.search(match, p) for p in summarize(ds, progress=False).problems)
    with pytest.raises(EcgDataError, match=match):  # --fail-fast stops at the row
        PTBXL(tmp_path, errors="raise")


def test_ptbxl_untouched_table_has_no_fault(tmp_path):
    write_db(tmp_path, ptbxl(tmp_path))  # control for the test above: the same table, undamaged
    ds = PTBXL(tmp_path)
    assert len(ds) == 4 and not ds.row_problems and not ds.notes


def test_ptbxl_missing_file_and_unlisted_record(tmp_path):
    df = ptbxl(tmp_path, n=3)
    write_db(tmp_path, df.iloc[:2])  # record 3 is on disk but in no row
    (tmp_path / "records100/00000/00002_lr.dat").unlink()
    (tmp_path / "records100/00000/00002_lr.hea").unlink()
    ds = PTBXL(tmp_path)
    assert list(ds.table["record_id"]) == ["1"]
    assert any("1 of 2 rows have no 100 Hz file" in n and "ecg_id 2" in n for n in ds.notes)
    assert any("1 record(s) in records100/ have no usable row" in n and "00003_lr" in n for n in ds.notes)


@pytest.mark.parametrize("content, match", [
    ("", r"ptbxl_database.csv: empty file \(no header row\)"),
    ("ecg_id,scp_codes,strat_fold,filename_lr,filename_hr\n", r"ptbxl_database.csv: no rows"),
    ("ecg_id,scp_codes\n1,{}\n", r"ptbxl_database.csv: strat_fold, filename_lr, filename_hr: required column"),
])
def test_ptbxl_empty_or_broken_table_names_the_file(tmp_path, content, match):
    ptbxl(tmp_path, n=1)
    (tmp_path / "ptbxl_database.csv").write_text(content)
    with pytest.raises(EcgDataError, match=match):
        PTBXL(tmp_path)


def test_ptbxl_no_good_row_at_all(tmp_path):
    df = ptbxl(tmp_path, n=2)
    df["strat_fold"] = 12
    write_db(tmp_path, df)
    with pytest.raises(EcgDataError, match=r"ptbxl_database.csv: no usable row: .*strat_fold"):
        PTBXL(tmp_path)


# --- challenge labels --------------------------------------------------------------------
def test_challenge_missing_or_empty_dx_reported_by_name(tmp_path):
    challenge_record(tmp_path, "E1")
    challenge_record(tmp_path, "E2", dx="")
    challenge_record(tmp_path, "E3", dx="164889003,426783006,164889003")  # a repeated code
    hea = tmp_path / "E4.hea"
    challenge_record(tmp_path, "E4")
    hea.write_text("\n".join(ln for ln in hea.read_text().splitlines() if not ln.startswith("# Dx")) + "\n")
    ds = Challenge(tmp_path)
    assert list(ds.table["record_id"]) == ["E1", "E3"]  # never loaded as silently unlabelled
    assert ds.table["codes"][1] == ("164889003", "426783006")  # de-duplicated
    assert ds.labels("all")[0].sum() == 3
    problems = summarize(ds, progress=False).problems
    assert any(p.startswith("E2: ") and "E2.hea: # Dx: empty: the record has no labels" in p for p in problems)
    assert any(p.startswith("E4: ") and "E4.hea: # Dx: no '# Dx' line" in p for p in problems)
    with pytest.raises(EcgDataError, match=r"E2.hea: # Dx: empty"):
        Challenge(tmp_path, errors="raise")
