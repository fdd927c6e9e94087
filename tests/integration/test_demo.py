"""The demo end to end in its quick mode (tiny models): every stage runs and the report is written."""

import json

import pytest


@pytest.mark.slow
def test_demo_quick(tmp_path, monkeypatch):
    from ecgfoundry.cli.demo import main

    out = tmp_path / "demo"
    assert main(["--quick", "--out", str(out), "--n", "300"]) == 0
    prov = json.loads((out / "provenance.json").read_text())
    assert [s["returncode"] for s in prov["steps"]] == [0] * len(prov["steps"]) and "finished" in prov
    assert (out / "report.html").stat().st_size > 10_000 and (out / "report.md").exists()
    for name in ("scar", "clip"):
        m = json.loads((out / "eval" / name / "metrics.json").read_text())
        assert set(m["zero_shot"]["missingness"]) == {"lead", "temporal", "joint"}
