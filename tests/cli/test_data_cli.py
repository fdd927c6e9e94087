import subprocess
import sys

import numpy as np
import pytest

from ecgfoundry.errors import EcgDataError

from ecgfoundry.cli.main import main

from ..io.test_challenge import write_record


def test_inspect_and_cache(tmp_path, capsys):
    write_record(tmp_path / "d", "E1", dx="164889003")
    write_record(tmp_path / "d", "E2", dx="426783006,164889003")
    assert main(["data", "inspect", str(tmp_path / "d"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "records: 2" in out and "atrial fibrillation (164889003)" in out and "problems found: none" in out
    assert main(["data", "cache", str(tmp_path / "d"), "--out", str(tmp_path / "c"), "--fs", "100",
                 "--seconds", "2", "--no-progress"]) == 0
    assert "cached 2 of 2 records" in capsys.readouterr().out
    assert main(["data", "inspect", str(tmp_path / "c")]) == 0
    assert "ArrayStore" in capsys.readouterr().out


def test_user_error_is_one_line(tmp_path, capsys):
    assert main(["data", "inspect", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("error: ") and "missing" in err[0] and "no such file" in err[0]
    assert err[1].startswith("hint: ") and len(err) == 2
    (tmp_path / "empty").mkdir()
    assert main(["data", "inspect", str(tmp_path / "empty")]) == 2
    assert "empty" in capsys.readouterr().err
    with pytest.raises(Exception):
        main(["--debug", "data", "inspect", str(tmp_path / "missing")])


def test_help_has_examples():
    out = subprocess.run([sys.executable, "-m", "ecgfoundry", "data", "cache", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "examples:" in out and "--fs" in out


def test_real_inspect_counts(ptbxl_root, capsys):
    assert main(["data", "inspect", str(ptbxl_root), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "records: 13,103" in out
    assert "folds: 1: 2,175, 2: 2,181, 3: 2,192, 4: 2,174, 9: 2,183, 10: 2,198" in out
    for cls in ("NORM", "MI", "STTC", "CD", "HYP"):
        assert cls in out


def test_synth_folder_is_named_and_has_cd(tmp_path):
    from ecgfoundry.io.detect import open_dataset

    assert main(["synth", "--n", "60", "--seed", "2", "--out", str(tmp_path / "s")]) == 0
    ds = open_dataset(tmp_path / "s")
    assert ds.name == "synthetic" and ds.default_label_set == "synthetic"
    y, classes = ds.labels("synthetic")
    cd = ds.labels("CD")[0][:, 0]
    conduction = y[:, [classes.index(c) for c in ("1AVB", "RBBB", "LBBB", "LAFB")]].max(axis=1)
    np.testing.assert_array_equal(cd, conduction)
    assert cd.sum() > 0
    (tmp_path / "s" / "dataset.json").write_text('{"default_label_set": "nope"}')
    with pytest.raises(EcgDataError, match="dataset.json: default_label_set"):
        open_dataset(tmp_path / "s")
