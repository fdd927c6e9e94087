"""make demo's last step: a shipped model on the real PTB-XL test fold, or a note when it cannot run."""

from __future__ import annotations

from pathlib import Path

from ecgfoundry.cli import demo


class _Recorder:
    def __init__(self):
        self.total, self.calls = 9, []

    def __call__(self, title, argv):
        self.calls.append((title, argv))


def test_real_ptbxl_is_found_from_the_environment_or_beside_the_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ECGFOUNDRY_DATA", str(tmp_path / "data"))
    assert demo.real_ptbxl() is None
    (tmp_path / "data" / "ptbxl").mkdir(parents=True)
    assert demo.real_ptbxl() is None                           # a folder without the table is not PTB-XL
    (tmp_path / "data" / "ptbxl" / "ptbxl_database.csv").write_text("ecg_id\n")
    assert demo.real_ptbxl() == tmp_path / "data" / "ptbxl"


def test_shipped_step_runs_the_shipped_model_or_leaves_a_note(tmp_path, monkeypatch, capsys):
    import ecgfoundry.pretrained as pretrained

    monkeypatch.setattr(demo, "real_ptbxl", lambda: None)
    step = _Recorder()
    demo._shipped_on_real_data(step, tmp_path, 0, [], quick=True)
    assert step.calls == [] and step.total == 8 and "skipped the shipped model" in capsys.readouterr().out
    monkeypatch.setattr(demo, "real_ptbxl", lambda: Path("/data/ptbxl"))
    monkeypatch.setattr(pretrained, "list_pretrained", lambda: ["ptbxl-clip", "ptbxl-scar"])
    step = _Recorder()
    demo._shipped_on_real_data(step, tmp_path, 3, ["--cache-root", "c"], quick=False)
    (title, argv), = step.calls
    assert argv[:3] == ["evaluate", "--model", "ptbxl-scar"] and "/data/ptbxl" in argv and "--cache-root" in argv
    assert argv[argv.index("--seed") + 1] == "3" and step.total == 9
