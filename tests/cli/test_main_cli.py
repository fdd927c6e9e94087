"""The entry point's rough edges (issue 22): --debug anywhere, --version, a short EcgBatch repr and
a package docstring that points at files the repository has."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from ecgfoundry.cli.main import main

REPO = Path(__file__).resolve().parents[2]


def test_debug_is_accepted_last(tmp_path, capsys):
    """The hint says "run with --debug"; appending it used to be an argparse error."""
    with pytest.raises(Exception) as exc:
        main(["data", "inspect", str(tmp_path / "missing"), "--debug"])
    assert "missing" in str(exc.value)
    assert main(["data", "inspect", str(tmp_path / "missing")]) == 2
    assert "hint: run with --debug" in capsys.readouterr().err


def test_version(capsys):
    from ecgfoundry import __version__

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"ecgfoundry {__version__}"


def test_batch_repr_is_one_short_line():
    from ecgfoundry import EcgBatch

    n, t = 64, 1000
    b = EcgBatch(signal=np.zeros((n, 12, t), np.float32), observed=np.ones((n, 12, t), bool), fs=100.0,
                 labels=np.zeros((n, 3), np.float32), classes=("A", "B", "C"), texts=["x"] * n,
                 ids=[f"ds/{i}" for i in range(n)], meta={"age": np.zeros(n)})
    r = repr(b)
    assert "\n" not in r and len(r) < 200
    assert "N=64" in r and "T=1000" in r and "fs=100 Hz" in r and "ds/0" in r


def test_package_docstring_points_at_files_that_exist():
    import ecgfoundry

    named = re.findall(r"[\w/]+\.md", ecgfoundry.__doc__)
    assert named and "DESIGN.md" not in named
    for name in named:
        assert (REPO / name).exists() or (REPO / "docs" / name).exists(), name
