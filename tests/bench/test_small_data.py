"""Small datasets: sizes filled within their bin, k lowered to the class's patients, skips with reasons,
folds a class cannot fill recorded instead of crashing; task aliases; the MLP's early-stopping guard."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the bench extra is not installed (pip install -e '.[bench]')")

from ecgfoundry.bench.embed import EmbeddingCache, Embeddings
from ecgfoundry.bench.runner import plan, plan_cells, run_grid, save_labels
from ecgfoundry.bench.scarcity import fit_size
from ecgfoundry.bench.tasks import Task, TaskUnavailable, parse_task, resolve_task, task_labels

from .conftest import planted


def test_fit_size_fills_the_bin_or_skips():
    assert fit_size("XS", 250, 1000) == (250, "")
    assert fit_size("XS", 250, 20)[0] == 20
    assert fit_size("XS", 250, 20, fill_bins=False)[0] is None
    assert fit_size("S", 1000, 700) == (700, "all 700 records (fewer than 1000, still in the S bin)")
    n, why = fit_size("S", 1000, 300)
    assert n is None and "below the S bin" in why
    assert fit_size("tiny", 60, 50) == (None, "50 records < 60")  # custom sizes have no bin


def _work(root, datasets):
    """datasets: name -> (n_pos, n_neg); embeddings with the label planted in dim 0."""
    cache = EmbeddingCache(root / "embeddings")
    for i, (name, (n_pos, n_neg)) in enumerate(datasets.items()):
        rng = np.random.default_rng(i)
        y = np.r_[np.ones(n_pos), np.zeros(n_neg)].astype(int)
        X = rng.normal(size=(len(y), 4)).astype(np.float32)
        X[:, 0] += 4 * y
        ids = [f"{name}/{j}" for j in range(len(y))]
        cache.save(Embeddings(X, ids, "m", name, "max"))
        save_labels(root, name, "CD", y, ids)
    return root


def test_plan_cells_lower_k_and_record_n(tmp_path):
    wd = _work(tmp_path, {"big": (300, 400), "tiny": (9, 11), "two_pos": (2, 18)})
    cells, skipped = plan_cells(wd, ["big", "tiny", "two_pos"], ["CD"], {"XS": 250, "S": 1000}, k=15,
                                small_data=True)
    c = cells.set_index(["dataset", "size"])
    assert (c.loc[("big", "XS"), ["n", "n_pos", "k"]] == [250, 125, 15]).all()
    assert (c.loc[("big", "S"), ["n", "n_pos", "n_neg", "k"]] == [700, 300, 400, 15]).all()  # all 700, in the S bin
    assert (c.loc[("tiny", "XS"), ["n", "n_pos", "n_neg", "k"]] == [20, 9, 11, 9]).all()
    assert "all 20 records" in c.loc[("tiny", "XS"), "note"] and "k = 9" in c.loc[("tiny", "XS"), "note"]
    reasons = {(r.dataset, r.size): r.reason for r in skipped.itertuples()}
    assert "2 positives" in reasons[("two_pos", "XS")] and "below the S bin" in reasons[("tiny", "S")]
    # without small_data the paper's fixed sizes and k apply
    strict, _ = plan_cells(wd, ["big", "tiny"], ["CD"], {"XS": 250}, k=15)
    assert strict.dataset.tolist() == ["big"]
    jobs, _ = plan(wd, ["m"], ["tiny"], ["CD"], {"XS": 250}, ["logistic_regression"], ["max"], k=15, small_data=True)
    assert len(jobs) == 9 and {j.k for j in jobs} == {9} and {j.n for j in jobs} == {20}
    assert json.loads((wd / "labels" / "tiny" / "CD.json").read_text())["n_pos"] == 9


def test_k_follows_patients_and_cells_report_grouping(tmp_path, capsys):
    # 20 positives from 5 patients (4 records each), 20 negatives from 20 patients: a patient-grouped
    # 15-fold CV cannot put a positive in every test fold, so k drops to 5 with a printed note
    # (old behaviour: k = 15 from the record counts, and no patient counts anywhere)
    wd = _work(tmp_path, {"pts": (20, 20)})
    y = np.r_[np.ones(20), np.zeros(20)]
    groups = [f"p{j // 4}" for j in range(20)] + [f"n{j}" for j in range(20)]
    save_labels(wd, "pts", "CD", y, [f"pts/{j}" for j in range(40)], groups)
    cells, _ = plan_cells(wd, ["pts"], ["CD"], {"XS": 250}, k=15, small_data=True)
    row = cells.iloc[0]
    assert (row.n, row.k, row.n_patients, row.n_grouped, row.grouped) == (40, 5, 25, 20, True)
    assert "k = 5 (a class has 5 patients, fewer than 15)" in row.note
    assert "note: pts / CD / XS: k = 5" in capsys.readouterr().err
    # without patient groups every record is its own group: k = 15, nothing grouped
    flat, _ = plan_cells(wd, ["pts"], ["CD"], {"XS": 250}, k=15, small_data=True, group_by_patient=False)
    assert (flat.iloc[0].k, flat.iloc[0].n_patients, flat.iloc[0].n_grouped, flat.iloc[0].grouped) == (15, 40, 0, False)
    res = run_grid(wd, ["m"], ["pts"], tasks=["CD"], sizes={"XS": 250}, classifiers=["logistic_regression"],
                   poolings=["max"], k=15, grids={"logistic_regression": {"C": [1.0]}}, progress=False,
                   small_data=True)
    assert len(res.folds) == 5 and res.folds.grouped.all() and res.folds.f1.notna().all()


def test_tiny_cells_run_and_unfit_folds_are_recorded(tmp_path):
    wd = _work(tmp_path, {"tiny": (3, 5)})
    grids = {"logistic_regression": {"C": [1.0]}}
    res = run_grid(wd, ["m"], ["tiny"], tasks=["CD"], sizes={"XS": 250}, classifiers=["logistic_regression"],
                   poolings=["max"], k=15, grids=grids, progress=False, small_data=True)
    assert len(res.folds) == 3 and (res.folds.k == 3).all() and (res.folds.n == 8).all()
    # 3 positives in 3 folds: every training part keeps 2, enough for a 2-fold inner search
    assert res.folds.f1.notna().all() and (res.folds.error == "").all()
    assert res.summary.n_folds.tolist() == [3] and res.meta["n_folds_failed"] == 0
    assert res.cells.k.tolist() == [3]
    # non-converged fits are counted, not printed: one solver iteration cannot converge, so every fit
    # of every fold is counted; the default iterations converge on these 8 records
    assert (res.folds.fits_not_converged == 0).all()
    capped = run_grid(_work(tmp_path / "capped", {"tiny": (3, 5)}), ["m"], ["tiny"], tasks=["CD"],
                      sizes={"XS": 250}, classifiers=["logistic_regression"], poolings=["max"], k=15,
                      grids={"logistic_regression": {"C": [1.0], "max_iter": [1]}}, progress=False, small_data=True)
    assert (capped.folds.fits_not_converged > 0).all()


def test_fold_without_enough_training_records_is_nan_not_a_crash(tmp_path):
    from ecgfoundry.bench.runner import Job, run_job
    from ecgfoundry.bench.probes import resolve_grid

    wd = _work(tmp_path, {"d": (4, 40)})
    # patient groups that put 3 of the 4 positives in one patient: a fold trains on a single positive
    groups = [f"p{j}" for j in range(44)]
    groups[0] = groups[1] = groups[2] = "same"
    ids = [f"d/{j}" for j in range(44)]
    save_labels(wd, "d", "CD", np.r_[np.ones(4), np.zeros(40)].astype(int), ids, groups)
    recs = [run_job(Job("m", "d", "max", "CD", "XS", 44, "logistic_regression", f, 2, 3, 0,
                        resolve_grid("logistic_regression")), wd) for f in range(2)]
    failed = [r for r in recs if r["error"]]
    assert failed and np.isnan(failed[0]["f1"])
    assert "at least 2 records (and patients) of each class" in failed[0]["error"]


class Store:
    name = "s"

    def __init__(self, sets, default=None):
        self.sets, self.info = sets, {"default_label_set": default}

    @property
    def label_set_names(self):
        return list(self.sets)

    def labels(self, name):
        return self.sets[name]


def test_task_alias_and_default_label_set_fallback():
    y = np.array([[1, 0], [0, 1], [1, 1]], np.float32)
    synthetic = Store({"synthetic": (y, ("AF", "STACH")), "CD": (y[:, :1], ("CD",))}, default="synthetic")
    assert resolve_task(synthetic, "AF") == Task("AF", "synthetic", "AF")
    assert task_labels(synthetic, "AF").tolist() == [1, 0, 1]
    tachy = parse_task("TACHY=rhythm:STACH|synthetic:STACH")
    assert tachy.name == "TACHY" and tachy.alternatives == (("synthetic", "STACH"),)
    assert resolve_task(synthetic, tachy) == Task("TACHY", "synthetic", "STACH")
    assert task_labels(synthetic, tachy).tolist() == [0, 1, 1]
    ptbxl = Store({"rhythm": (y, ("AFIB", "STACH"))}, default="rhythm")
    assert resolve_task(ptbxl, tachy).label_set == "rhythm"
    with pytest.raises(TaskUnavailable, match="none of rhythm:STACH, synthetic:STACH"):
        resolve_task(Store({"CD": (y[:, :1], ("CD",))}), tachy)
    with pytest.raises(TaskUnavailable, match="no label set 'AF'"):
        resolve_task(ptbxl, "AF")  # the default set has no class AF (it is AFIB): never guessed
    for bad in ("X=", "=a:b", "X=a:b|Y=c:d"):
        with pytest.raises(ValueError):
            parse_task(bad)


def test_mlp_early_stopping_only_with_enough_held_out_records():
    from ecgfoundry.bench._mlp import EarlyStoppingMLP

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        X, y = planted(n=100, d=8)
        small = EarlyStoppingMLP(hidden_layer_sizes=(8,), max_iter=50, early_stopping=True, random_state=0).fit(X, y)
        assert not small.early_stopping_used_ and small.early_stopping  # parameter restored
        X, y = planted(n=600, d=8)
        big = EarlyStoppingMLP(hidden_layer_sizes=(8,), max_iter=50, early_stopping=True, random_state=0).fit(X, y)
        assert big.early_stopping_used_ and big.validation_scores_ is not None
        assert big.score(X, y) > 0.95
