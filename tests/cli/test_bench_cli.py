"""``ecgfoundry bench`` end to end on tiny synthetic data and tiny checkpoints (fast), resumability,
one-line errors, the Dask path, and real challenge / PTB-XL data (skipped when absent)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

pytest.importorskip("sklearn", reason="the bench extra is not installed (pip install -e '.[bench]')")

from ecgfoundry.cli.main import main

FAST = ["--sizes", "XS", "--folds", "3", "--pooling", "max", "--classifiers", "logistic_regression,decision_tree",
        "--no-umap", "--no-progress"]


@pytest.fixture(scope="module")
def tiny_clip(eval_store, tmp_path_factory):
    """A 2-step CLIP run with the tiny presets (transformer-tiny, hashing text encoder)."""
    from ecgfoundry.models.config import TextConfig
    from ecgfoundry.models.registry import get_model_config
    from ecgfoundry.train.config import TrainConfig
    from ecgfoundry.train.loop import pretrain
    from tests.eval.conftest import one_thread

    out = tmp_path_factory.mktemp("bench_clip") / "clip"
    cfg = get_model_config("clip", encoder="transformer-tiny", text=TextConfig(kind="hashing"))
    with one_thread():
        pretrain(cfg, TrainConfig(steps=2, batch_size=8, log_every=1, checkpoint_every=2, warmup_steps=1),
                 eval_store, out, progress=False)
    return out


@pytest.fixture(scope="module")
def two_source_store(eval_store, tmp_path_factory):
    """The 96-record cache with a ``source`` column: records alternate between sources A and B."""
    folder = tmp_path_factory.mktemp("bench_sources") / "cache"
    shutil.copytree(eval_store.path, folder)
    table = pd.read_csv(folder / "records.csv", dtype=str, keep_default_na=False)
    table["source"] = ["A" if i % 2 == 0 else "B" for i in range(len(table))]
    table.to_csv(folder / "records.csv", index=False)
    return folder


def test_bench_end_to_end_and_resume(tmp_path, capsys, tiny_run, tiny_clip, two_source_store):
    out = tmp_path / "bench"
    argv = ["bench", "--models", f"scar={tiny_run}", str(tiny_clip), "--data", str(two_source_store),
            "--split-sources", "--tasks", "CD,AF", "--out", str(out), *FAST]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| dataset | size | n | n_patients | n_grouped | k | task | pooling | scar | clip |" in printed
    for f in ("tables.md", "tables/f1.csv", "tables/headline.csv", "tables/best_classifiers.csv",
              "tables/separability.csv", "tables/shared_features.csv", "tables/cells.csv", "tables/skipped.csv",
              "figures/shared_features.png", "folds.csv", "summary.json"):
        assert (out / f).exists(), f
    s = json.loads((out / "summary.json").read_text())
    cells = pd.DataFrame(s["cells"])
    assert set(cells.dataset) <= {"synthetic:A", "synthetic:B"} and len(cells)
    assert (cells.n == 48).all() and (cells.k <= 3).all() and (cells.k >= 2).all()  # XS = all 48 records of a source
    # every job of every cell ran: models x classifiers x (k per cell) with one pooling
    assert s["jobs"]["total"] == s["jobs"]["ran_now"] == 2 * 2 * int(cells.k.sum())
    folds = pd.read_csv(out / "folds.csv")
    assert set(folds.model) == {"scar", "clip"}
    # every headline figure is the median of its cell's fold F1s, recomputed here from folds.csv
    keys = ["dataset", "task", "size", "pooling", "model", "classifier"]
    med = folds.groupby(keys)["f1"].median()
    assert len(s["headline"]) and all(row["f1_median"] == pytest.approx(med[tuple(row[k] for k in keys)])
                                      for row in s["headline"])
    f1 = pd.read_csv(out / "tables" / "f1.csv")
    assert {"n", "n_pos", "k", "logistic_regression", "decision_tree"} <= set(f1.columns)
    sep = pd.read_csv(out / "tables" / "separability.csv")
    assert set(sep.level) == {"label", "dataset"}
    assert (sep.loc[sep.level == "dataset", "n_groups"] == 2).all()  # sources A and B both present
    shared = pd.read_csv(out / "tables" / "shared_features.csv")
    # transformer-tiny: D = 32 <= 50, so k = 32; top-k sets hold only non-zero importances (chance <= 1)
    assert (shared["dim"] == 32).all() and (shared["k"] == 32).all() and (shared.chance_rate <= 1.0).all()
    assert s["options"]["k"] == 3 and s["models"][0]["label"] == "scar"

    # resumed: nothing is recomputed and the numbers are the same
    assert main(argv) == 0
    again = json.loads((out / "summary.json").read_text())
    assert again["jobs"]["ran_now"] == 0 and again["headline"] == s["headline"]
    assert again["separability"] == s["separability"]


def test_bench_synthetic_default_and_adapter(tmp_path, capsys, tiny_run):
    out = tmp_path / "bench"
    argv = ["bench", "--models", str(tiny_run), "ecg-jepa-tiny", "--weights", "ecg-jepa-tiny=random",
            "--data", "synthetic", "--synthetic-n", "240", "--holdout", "synthetic", "--tasks", "CD", "--out", str(out),
            "--cache-root", str(tmp_path / "cache"), "--no-representation", *FAST]
    assert main(argv) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["datasets"][0]["dataset"] == "synthetic:val+test"  # --holdout synthetic: folds 9-10 only
    assert s["datasets"][0]["records"] == 48
    assert {m["label"] for m in s["models"]} == {"run", "ecg-jepa-tiny-random"}
    assert (out / "work" / "data").is_dir()
    assert pd.read_csv(out / "tables" / "separability.csv").empty  # --no-representation
    folds = pd.read_csv(out / "folds.csv")
    assert set(folds.model) == {"run", "ecg-jepa-tiny-random"} and folds.f1.notna().all()


@pytest.mark.parametrize("flags, message", [
    (["--classifiers", "svm"], "unknown classifier 'svm'"),
    (["--pooling", "median"], "unknown pooling 'median'"),
    (["--sizes", "XXL"], "unknown size 'XXL'"),
    (["--folds", "1"], "at least 2"),
    (["--models", "ecg-fm"], "weights no path given: download mimic_iv_ecg_physionet_pretrained.pt"),
    (["--models", "ecg-fm", "--weights", "ecg-fm=/nowhere/ecg_fm.pt"], "not found at /nowhere/ecg_fm.pt"),
    (["--models", "no/such/run"], "no such run folder"),
    (["--data", "no/such/folder"], "no such file or folder"),
    (["--repr-datasets", "nope"], "unknown dataset(s) nope"),
    (["--holdout", "nope"], "--holdout: unknown dataset(s) nope"),
    (["--grids", "{bad"], "not valid JSON"),
])
def test_bench_errors_are_one_line(tmp_path, capsys, eval_store, tiny_run, flags, message):
    argv = ["bench", "--models", str(tiny_run), "--data", str(eval_store.path), "--out", str(tmp_path / "b"),
            "--no-progress"]
    for flag, value in zip(flags[::2], flags[1::2]):  # replace or add
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("error:") and "hint:" in err and "Traceback" not in err


def test_bench_on_a_dask_cluster(tmp_path, capsys, eval_store, tiny_run):
    distributed = pytest.importorskip("dask.distributed")
    argv = ["bench", "--models", str(tiny_run), "--data", str(eval_store.path), "--tasks", "CD",
            "--no-representation", *FAST]
    assert main(argv + ["--out", str(tmp_path / "local")]) == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as c:
        assert main(argv + ["--out", str(tmp_path / "dask"), "--scheduler", c.scheduler_address]) == 0
    local = json.loads((tmp_path / "local" / "summary.json").read_text())
    dask = json.loads((tmp_path / "dask" / "summary.json").read_text())
    assert dask["scheduler"] == c.scheduler_address and dask["jobs"]["ran_now"] == dask["jobs"]["total"] > 0
    assert dask["headline"] == local["headline"]


def test_bench_unreachable_scheduler_is_one_line(tmp_path, capsys, monkeypatch, eval_store, tiny_run):
    pytest.importorskip("dask.distributed")
    monkeypatch.setattr("ecgfoundry.cli.bench.CONNECT_TIMEOUT", "2s")
    argv = ["bench", "--models", str(tiny_run), "--data", str(eval_store.path), "--out", str(tmp_path / "b"),
            "--scheduler", "tcp://127.0.0.1:9", "--no-progress", *FAST[:-1]]
    assert main(argv) == 2
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err


def test_bench_real_challenge_sources(tmp_path, capsys, cinc_root, tiny_run):
    """The 50 real challenge records as three datasets: tiny cells run with the k their classes allow,
    the others are skipped with reasons, nothing crashes."""
    out = tmp_path / "bench"
    argv = ["bench", "--models", str(tiny_run), "--data", str(cinc_root), "--split-sources", "--tasks", "CD,AF",
            "--out", str(out), "--cache-root", str(tmp_path / "cache"), *FAST]
    assert main(argv) == 0
    s = json.loads((out / "summary.json").read_text())
    names = {d["dataset"]: d["records"] for d in s["datasets"]}
    assert sum(names.values()) == 50 and len(names) == 3 and all(n.startswith("cinc2021:") for n in names)
    cells = pd.DataFrame(s["cells"])
    assert len(cells) >= 1 and (cells.n <= 20).all() and (cells.k <= cells[["n_pos", "n_neg"]].min(axis=1)).all()
    skipped = pd.DataFrame(s["skipped"])
    assert len(skipped) + len(cells) == 3 * 2 and skipped.reason.str.contains("positives").all()


@pytest.mark.slow
def test_bench_real_ptbxl_and_challenge(tmp_path, capsys, ptbxl_root, cinc_root, tiny_run):
    """PTB-XL (6,556 records) and the challenge sources with UMAP: the full pipeline on real data."""
    out = tmp_path / "bench"
    argv = ["bench", "--models", str(tiny_run), "--data", str(ptbxl_root), str(cinc_root), "--split-sources",
            "--holdout", "ptbxl", "--tasks", "CD,AF", "--sizes", "XS,S", "--folds", "3", "--pooling", "max",
            "--classifiers", "logistic_regression,xgboost", "--n-fit", "500", "--n-per-dataset", "300",
            "--out", str(out), "--cache-root", str(tmp_path / "cache"), "--no-progress"]
    assert main(argv) == 0
    s = json.loads((out / "summary.json").read_text())
    records = {d["dataset"]: d["records"] for d in s["datasets"]}
    assert records["ptbxl:val+test"] == 2183 + 2198  # folds 9 and 10: the train split (fold 1) is left out
    cells = pd.DataFrame(s["cells"]).set_index(["dataset", "task", "size"])
    assert cells.loc[("ptbxl:val+test", "CD", "S"), "n"] == 1000
    assert cells.loc[("ptbxl:val+test", "AF", "XS"), "n_pos"] == 125
    headline = pd.DataFrame(s["headline"])
    folds = pd.read_csv(out / "folds.csv")
    keys = ["dataset", "task", "size", "pooling", "model", "classifier"]
    med = folds.groupby(keys)["f1"].median()   # the headline is the median of the folds' F1, recomputed
    ptb = headline[headline.dataset == "ptbxl:val+test"]
    assert len(ptb) and all(r.f1_median == pytest.approx(med[tuple(getattr(r, k) for k in keys)])
                            for r in ptb.itertuples())
    assert list((out / "figures").glob("umap_*_CD.png"))
