"""Reports do not depend on the working directory (issue 22): paths that evaluate writes relative to
its own output folder are found from anywhere."""

from __future__ import annotations

import json
import os
import shutil

from ecgfoundry.report.build import ReportOptions, write_report

FAST = ReportOptions(umap=False, dpi=40, progress=False)


def test_eval_data_relative_to_its_folder_from_another_directory(run_folder, tmp_path, eval_store, monkeypatch):
    shutil.copytree(eval_store.path, run_folder / "data-cache")
    (run_folder / "provenance.json").unlink()
    for name in ("scar", "clip"):
        p = run_folder / "eval" / name / "metrics.json"
        m = json.loads(p.read_text())
        m["data"] = os.path.relpath(run_folder / "data-cache", p.parent)  # "../../data-cache"
        p.write_text(json.dumps(m))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    res = write_report(run_folder, tmp_path / "r", FAST)
    assert "ecg_paper.png" in {p.name for p in res.figures}, res.notes
