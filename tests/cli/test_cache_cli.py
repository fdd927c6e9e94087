"""Caches live outside the current directory, are printed when used, hold signals once per
harmonisation whatever the text source, and are managed by `ecgfoundry cache` (issue 22)."""

from __future__ import annotations

import pytest

from ecgfoundry.cli.main import main


@pytest.fixture(scope="module")
def synth_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth-cache")
    assert main(["synth", "--n", "40", "--seed", "2", "--out", str(root / "synth"), "--no-progress"]) == 0
    return root / "synth"


def test_cache_root_from_environment_not_cwd(tmp_path, monkeypatch):
    from ecgfoundry.cache import cache_root, stores_dir

    monkeypatch.delenv("ECGFOUNDRY_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    assert cache_root() == (tmp_path / "xdg" / "ecgfoundry").resolve()
    monkeypatch.setenv("ECGFOUNDRY_CACHE", "rel-cache")
    assert cache_root().is_absolute()
    monkeypatch.setenv("ECGFOUNDRY_CACHE", str(tmp_path / "c"))
    assert stores_dir() == (tmp_path / "c" / "stores").resolve()


def test_signals_cached_once_per_harmonisation(tmp_path, monkeypatch, synth_folder, capsys):
    """Two text sources share one signal store (each used to get its own copy of the signals)."""
    from ecgfoundry.io.store import HarmonizeSpec, open_store

    monkeypatch.setenv("ECGFOUNDRY_CACHE", str(tmp_path / "c"))
    monkeypatch.chdir(tmp_path)
    a = open_store(synth_folder, HarmonizeSpec(), progress=False, text_source="text")
    b = open_store(synth_folder, HarmonizeSpec(), progress=False, text_source="labels")
    assert a.path == b.path and a.path.parent == (tmp_path / "c" / "stores").resolve()
    assert len(list((tmp_path / "c" / "stores").iterdir())) == 1
    assert not (tmp_path / "runs").exists()
    assert a.table["text"].iloc[0] != b.table["text"].iloc[0]  # the texts differ, the signals are shared
    err = capsys.readouterr().err
    assert f"dataset cache: building {a.path}" in err and f"dataset cache: {a.path}" in err
    c = open_store(synth_folder, HarmonizeSpec(fs=50), progress=False)  # another harmonisation: another store
    assert c.path != a.path


def test_cache_list_and_clear(tmp_path, monkeypatch, synth_folder, capsys):
    from ecgfoundry.io.store import HarmonizeSpec, open_store

    monkeypatch.setenv("ECGFOUNDRY_CACHE", str(tmp_path / "c"))
    store = open_store(synth_folder, HarmonizeSpec(), progress=False, announce=False, text_source="labels")
    capsys.readouterr()
    assert main(["cache", "list"]) == 0
    out = capsys.readouterr().out
    assert store.path.name in out and "40 records" in out and "texts: labels" in out
    assert main(["cache", "clear", "no-such-cache"]) == 2
    assert "no cache named 'no-such-cache'" in capsys.readouterr().err
    assert main(["cache", "clear"]) == 2
    assert main(["cache", "clear", store.path.name]) == 0
    assert not store.path.exists()
    assert "no caches" in (main(["cache", "list"]), capsys.readouterr().out)[1]


def test_existing_cache_in_runs_cache_is_reused(tmp_path, monkeypatch, synth_folder):
    """A store built before the move (./runs/cache, keyed with the text source) is opened as it is,
    so existing runs find their data without a rebuild."""
    from ecgfoundry.io.detect import open_dataset
    from ecgfoundry.io.store import HarmonizeSpec, build_store, open_store, store_name

    monkeypatch.setenv("ECGFOUNDRY_CACHE", str(tmp_path / "c"))
    monkeypatch.chdir(tmp_path)
    old = tmp_path / "runs" / "cache" / store_name(synth_folder, "wfdb_folder", HarmonizeSpec(), {"text_source": "labels"})
    build_store(open_dataset(synth_folder, text_source="labels"), old, progress=False)
    store = open_store(synth_folder, HarmonizeSpec(), progress=False, text_source="labels")
    assert store.path.resolve() == old.resolve()
    assert not (tmp_path / "c").exists()
