"""Missing real data: a skip for a developer, a failure when ECGFOUNDRY_REQUIRE_DATA is set (CI)."""

import subprocess
from pathlib import Path

import pytest

from .conftest import REQUIRE_DATA_VAR, need_data

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("value", ["", "0", "false"])
def test_missing_data_is_a_skip_without_the_variable(tmp_path, monkeypatch, value):
    monkeypatch.setenv(REQUIRE_DATA_VAR, value)
    with pytest.raises(pytest.skip.Exception, match="real data not found"):
        need_data("ptbxl", root=tmp_path)


@pytest.mark.parametrize("value", ["1", "yes", "true"])
def test_missing_data_is_a_failure_with_the_variable(tmp_path, monkeypatch, value):
    monkeypatch.setenv(REQUIRE_DATA_VAR, value)
    with pytest.raises(pytest.fail.Exception, match=f"{REQUIRE_DATA_VAR} is set"):
        need_data("ptbxl", root=tmp_path)


def test_present_data_is_returned_either_way(tmp_path, monkeypatch):
    (tmp_path / "ptbxl").mkdir()
    for value in ("", "1"):
        monkeypatch.setenv(REQUIRE_DATA_VAR, value)
        assert need_data("ptbxl", root=tmp_path) == tmp_path / "ptbxl"


def test_ci_entry_point_requires_the_data():
    """``.ci/run`` exports the variable before it runs the suite (read from the script, since running
    CI inside the tests would run the suite twice)."""
    lines = [ln.strip() for ln in (REPO / ".ci" / "run").read_text().splitlines()]
    export = lines.index(f"export {REQUIRE_DATA_VAR}=1")
    assert export < lines.index("make test")
    # and the script is valid bash
    assert subprocess.run(["bash", "-n", str(REPO / ".ci" / "run")]).returncode == 0
