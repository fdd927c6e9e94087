"""The grid runner: planning with skips, joblib vs Dask equality, resumability, prepare()."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

for _m in ('sklearn',):
    pytest.importorskip(_m, reason="the bench extra is not installed (pip install -e '.[bench]')")


from ecgfoundry.batch import EcgBatch
from ecgfoundry.bench import runner
from ecgfoundry.bench.embed import EmbeddingCache, Embeddings
from ecgfoundry.bench.probes import resolve_grid
from ecgfoundry.bench.runner import Job, plan, prepare, result_path, run_grid, run_jobs, save_labels

from .conftest import planted

GRIDS = {"decision_tree": {"max_depth": [2, 4]}, "logistic_regression": {"C": [1.0]}}
SMALL = dict(tasks=["AF"], sizes={"tiny": 60}, classifiers=["decision_tree", "logistic_regression"],
             poolings=["max"], k=3, grids=GRIDS)


def make_workdir(root, n=120, d=8):
    """Two datasets; model "good" has the label planted in its embeddings, model "noise" has not."""
    cache = EmbeddingCache(root / "embeddings")
    for i, dataset in enumerate(["ds1", "ds2"]):
        X, y = planted(n=n, d=d, informative=(1,), seed=i)
        ids = [f"{dataset}/{j}" for j in range(n)]
        noise = np.random.default_rng(10 + i).normal(size=(n, d)).astype(np.float32)
        cache.save(Embeddings(X, ids, "good", dataset, "max"))
        cache.save(Embeddings(noise, ids, "noise", dataset, "max"))
        save_labels(root, dataset, "AF", y, ids)
    return root


def test_job_key_is_stable_and_covers_the_grid():
    j = Job("m", "d", "max", "AF", "XS", 250, "mlp", 0, 15, 3, 0, resolve_grid("mlp"))
    assert j.key == Job("m", "d", "max", "AF", "XS", 250, "mlp", 0, 15, 3, 0, resolve_grid("mlp")).key
    other = Job("m", "d", "max", "AF", "XS", 250, "mlp", 0, 15, 3, 0, resolve_grid("mlp", {"mlp": {"alpha": [1]}}))
    assert j.key != other.key and len({j, other}) == 2
    with pytest.raises(ValueError):
        Job("m", "d", "max", "AF", "XS", 250, "mlp", 15, 15)


def test_plan_records_skips(tmp_path):
    wd = make_workdir(tmp_path)
    jobs, skipped = plan(wd, ["good"], ["ds1", "ds2"], tasks=["AF", "CD"], sizes={"tiny": 60, "S": 1000},
                         classifiers=["decision_tree"], poolings=["max"], k=3)
    assert len(jobs) == 2 * 3  # 2 datasets x 3 folds; S and CD skipped
    reasons = {(r.dataset, r.task, r.size): r.reason for r in skipped.itertuples()}
    assert reasons[("ds1", "AF", "S")].startswith("120 records < 1000")
    assert "no labels for task CD" in reasons[("ds2", "CD", "*")]
    assert (wd / "skipped.csv").exists()


def test_grid_known_answers_and_summaries(tmp_path):
    wd = make_workdir(tmp_path)
    res = run_grid(wd, ["good", "noise"], ["ds1", "ds2"], progress=False, **SMALL)
    assert len(res.folds) == 2 * 2 * 2 * 3 and res.folds["ran_now"].all()
    s = res.summary.set_index(["model", "dataset", "classifier"])
    assert (s.loc["good", "f1_median"] > 0.95).all()
    assert (s.loc["noise", "f1_median"] < 0.8).all()
    assert set(res.summary.columns) >= {"f1_median", "f1_iqr", "n_folds"} and (res.summary.n_folds == 3).all()
    assert len(res.best) == 4 and set(res.best.columns) >= {"model", "dataset", "classifier"}
    res.save(tmp_path / "out")
    assert json.loads((tmp_path / "out" / "run.json").read_text())["n_jobs_ran"] == 24


def _f1s(df):
    return df.sort_values("key").set_index("key")[["f1", "best_params", "n_train", "n_test"]]


def test_dask_cluster_gives_the_joblib_results(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    wd_a, wd_b = make_workdir(tmp_path / "a"), make_workdir(tmp_path / "b")
    jobs, _ = plan(wd_a, ["good", "noise"], ["ds1"], **SMALL)
    local = run_jobs(jobs, wd_a, scheduler="local", n_jobs=2, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        on_dask = run_jobs(jobs, wd_b, scheduler=client, progress=False)
    pd.testing.assert_frame_equal(_f1s(local), _f1s(on_dask))
    assert on_dask["ran_now"].all() and len(on_dask) == len(jobs) == 12


def test_resume_runs_only_missing_jobs(tmp_path):
    wd = make_workdir(tmp_path)
    jobs, _ = plan(wd, ["good"], ["ds1", "ds2"], **SMALL)
    first = run_jobs(jobs[::2], wd, progress=False)  # "interrupted" half way
    stamps = {j.key: result_path(wd, j).stat().st_mtime_ns for j in jobs[::2]}
    full = run_jobs(jobs, wd, progress=False)
    ran = set(full.loc[full.ran_now, "key"])
    assert ran == {j.key for j in jobs[1::2]}
    assert all(result_path(wd, j).stat().st_mtime_ns == stamps[j.key] for j in jobs[::2])
    assert full.set_index("key").loc[first.key, "f1"].tolist() == first.f1.tolist()
    assert not run_jobs(jobs, wd, progress=False).ran_now.any()


def test_crash_keeps_finished_results(tmp_path, monkeypatch):
    wd = make_workdir(tmp_path)
    jobs, _ = plan(wd, ["good"], ["ds1"], **SMALL)
    real, calls = runner.evaluate_fold, []

    def crashing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "evaluate_fold", crashing)
    with pytest.raises(KeyboardInterrupt):
        run_jobs(jobs, wd, progress=False)
    assert len(list((wd / "results").glob("*.json"))) == 3
    assert not list((wd / "results").glob("*.partial"))
    monkeypatch.setattr(runner, "evaluate_fold", real)
    assert run_jobs(jobs, wd, progress=False).ran_now.sum() == len(jobs) - 3


class FakeStore:
    def __init__(self, name, n=80):
        self.name = name
        rng = np.random.default_rng(0)
        self.y = np.tile([0.0, 1.0], n // 2)[:, None].astype(np.float32)
        self.signal = rng.normal(size=(n, 12, 20)).astype(np.float32)
        self.signal[:, 1] += 8 * self.y  # lead II carries the label
        self.table = pd.DataFrame({"record_id": [str(i) for i in range(n)],
                                   "patient_id": [str(i // 2) for i in range(n)]})
        self.label_set_names = ["AF"]

    def __len__(self):
        return len(self.table)

    def labels(self, name):
        return self.y, ("AF",)

    def batch(self, indices, with_labels=False):
        idx = np.asarray(indices)
        return EcgBatch(self.signal[idx], np.ones(self.signal[idx].shape, bool), fs=100.0)


class LeadMeans:
    name = "leadmeans"

    def embed(self, batch):
        return np.asarray(batch.signal)[:, :, :4]  # tokens (N, 12, 4)


def test_prepare_then_grid_with_patient_groups(tmp_path):
    skips = prepare(tmp_path, [LeadMeans()], {"fake": FakeStore("fake")}, tasks=["AF", "CD"], poolings=["max"],
                    progress=False)
    assert skips and skips[0]["task"] == "CD"
    assert (tmp_path / "labels" / "fake" / "groups.npy").exists()
    res = run_grid(tmp_path, ["leadmeans"], ["fake"], tasks=["AF"], sizes={"tiny": 60},
                   classifiers=["logistic_regression"], poolings=["max"], k=3, grids=GRIDS, progress=False)
    assert res.folds.grouped.all() and (res.folds.f1 > 0.9).all()


def test_job_keys_follow_the_embeddings(tmp_path):
    wd = make_workdir(tmp_path)
    jobs, _ = plan(wd, ["good"], ["ds1"], **SMALL)
    run_jobs(jobs, wd, progress=False)
    cache = EmbeddingCache(wd / "embeddings")
    old = cache.load("good", "ds1", "max", mmap=False)
    cache.save(Embeddings(old.X[:, ::-1].copy(), old.ids, "good", "ds1", "max", {"fingerprint": "new checkpoint"}))
    again, _ = plan(wd, ["good"], ["ds1"], **SMALL)
    assert {j.key for j in again}.isdisjoint(j.key for j in jobs)
    assert run_jobs(again, wd, progress=False).ran_now.all()  # nothing stale is reused
