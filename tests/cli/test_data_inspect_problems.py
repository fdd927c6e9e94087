"""``ecgfoundry data inspect`` on folders holding damaged and unusual real-world files: the good
records load, each bad one is named with its reason, and the exit status says problems were found."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("wfdb")

from ecgfoundry.cli.main import main  # noqa: E402
from ecgfoundry.signals.leads import LEADS  # noqa: E402

from ..io.test_never_scrambled import challenge_record, dat_record  # noqa: E402

FRANK = ("vx", "vy", "vz")


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # rich wraps long lines at the terminal width


def drop_signal_line(rec, k=5):
    hea = rec.with_suffix(".hea")
    lines = hea.read_text().splitlines()
    hea.write_text("\n".join(lines[:k] + lines[k + 1:]) + "\n")


@pytest.fixture
def damaged_folder(tmp_path):
    """records.csv + records: two good, a Georgia-style header, a PTB-Diagnostic-style record (12 leads
    + Frank), a header with a dropped signal line, and a bad index row."""
    root = tmp_path / "mixed"
    rec = root / "records"
    dat_record(rec, "good1")
    dat_record(rec, "good2")
    challenge_record(rec, "E07520", record_line="E07520.mat 12 500 500 05-May-2020 09:49:17")
    dat_record(rec, "s0010_re", names=LEADS + FRANK, values=np.tile((np.arange(15) + 1) * 0.1, (200, 1)))
    drop_signal_line(dat_record(rec, "dropped"))
    dat_record(rec, "badrow")
    (root / "records.csv").write_text("\n".join([
        "record,labels,fold",
        "records/good1,NORM,1",
        "records/good2,AF,9",
        "records/E07520,AF;RBBB,10",
        "records/s0010_re,MI,2",
        "records/dropped,NORM,3",
        "records/badrow,NORM,eleven",
    ]) + "\n")
    return root


def test_deep_inspect_loads_good_names_bad_exits_nonzero(damaged_folder, capsys):
    code = main(["data", "inspect", str(damaged_folder), "--deep", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 1
    assert "records: 5" in out and "read: 4" in out  # good1, good2, Georgia, PTB Diagnostic
    assert "problems found: 2" in out
    assert "records/badrow: " in out and "records.csv: line 7: fold: not an integer: 'eleven'" in out
    assert "records/dropped: " in out and "dropped.hea: number of signals: record line says 12" in out
    assert "E07520" not in out.split("problems found")[1]  # the Georgia header reads
    assert "carry channels that are not standard leads (vx, vy, vz)" in out


def test_plain_inspect_sees_what_headers_show(damaged_folder, capsys):
    code = main(["data", "inspect", str(damaged_folder), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 1 and "problems found: 2" in out and "dropped.hea: number of signals" in out
    assert "header(s): record line names the record with its file extension" in out
    assert "leads: 12 of 12 × 4" in out


def test_fail_fast_stops_at_the_bad_row(damaged_folder, capsys):
    assert main(["data", "inspect", str(damaged_folder), "--fail-fast", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "records.csv: line 7: fold: not an integer" in err
    assert main(["data", "cache", str(damaged_folder), "--out", str(damaged_folder.parent / "c"),
                 "--fail-fast", "--no-progress"]) == 2
    # with the bad row gone, fail-fast stops at the first unreadable record, in both scan modes
    csv = damaged_folder / "records.csv"
    csv.write_text(csv.read_text().replace("records/badrow,NORM,eleven", "records/badrow,NORM,4"))
    for deep in ([], ["--deep"]):
        assert main(["data", "inspect", str(damaged_folder), "--fail-fast", "--no-progress", *deep]) == 2
        assert "dropped.hea: number of signals" in capsys.readouterr().err


def test_cache_skips_and_lists_them(damaged_folder, capsys):
    out_dir = damaged_folder.parent / "cache"
    assert main(["data", "cache", str(damaged_folder), "--out", str(out_dir), "--fs", "100",
                 "--seconds", "0.4", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "cached 4 of 5 records" in out and "1 table row(s)" in out and "records/dropped" in out
    skipped = json.loads((out_dir / "store.json").read_text())["skipped"]
    assert [(s["record_id"], s["stage"]) for s in skipped] == [("records/badrow", "table"),
                                                               ("records/dropped", "read")]


def test_challenge_folder_with_the_same_damage(tmp_path, capsys):
    root = tmp_path / "cinc"
    challenge_record(root, "E00001")
    challenge_record(root, "E07520", record_line="E07520.mat 12 500 500 05-May-2020 09:49:17")
    challenge_record(root, "S0001", leads=LEADS + FRANK)  # PTB records in the 2021 challenge
    drop_signal_line(challenge_record(root, "E00002"))
    challenge_record(root, "E00003", dx="")  # the challenge's index is the '# Dx' line
    code = main(["data", "inspect", str(root), "--deep", "--no-progress", "--label-set", "all"])
    out = capsys.readouterr().out
    assert code == 1 and "records: 4" in out and "read: 3" in out and "problems found: 2" in out
    assert "E00003: " in out and "# Dx: empty" in out
    assert "E00002: " in out and "number of signals" in out


@pytest.mark.parametrize("edit, match", [
    (lambda ls: [ls[0]] + [ls[1].replace(" I", " Lead Q")] + ls[2:], "signal names: unknown lead name 'Lead Q'"),
    (lambda ls: [" ".join(ls[0].split()[:2])] + ls[1:], "sampling rate: header has no sampling rate"),
    (lambda ls: ["r?1" + ls[0][2:]] + ls[1:], "record line: record name 'r?1' cannot be read"),
], ids=["lead-name", "no-fs", "record-line"])
def test_plain_inspect_catches_header_faults(tmp_path, capsys, edit, match):
    root = tmp_path / "w"
    dat_record(root, "r0")
    rec = dat_record(root, "r1")
    hea = rec.with_suffix(".hea")
    hea.write_text("\n".join(edit(hea.read_text().splitlines())) + "\n")
    code = main(["data", "inspect", str(root), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 1 and "problems found: 1" in out and match in out and "r1.hea" in out


def test_clean_folder_exits_zero(tmp_path, capsys):
    dat_record(tmp_path / "w", "r0")
    assert main(["data", "inspect", str(tmp_path / "w"), "--deep", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "problems found: none" in out and "label sets: none" in out


def test_table_option(tmp_path, capsys):
    root = tmp_path / "w"
    dat_record(root, "r0")
    dat_record(root, "r1", names=("II", "V1"))
    (root / "index.csv").write_text("record,labels\nr0,NORM\nr1,AF\n")
    assert main(["data", "inspect", str(root), "--table", "index.csv", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "WFDBFolder" in out and "AF" in out and "2 of 12 (II, V1) × 1" in out


def test_sub_folder_of_a_dataset_points_to_it(tmp_path, capsys):
    root = tmp_path / "mine"
    dat_record(root / "records", "r0")
    (root / "records.csv").write_text("record,labels\nrecords/r0,NORM\n")
    assert main(["data", "inspect", str(root / "records"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "part of the wfdb_folder dataset at" in err and str(root) in err
    assert main(["data", "inspect", str(tmp_path), "--no-progress"]) == 2
    assert "holds a dataset below it" in capsys.readouterr().err
