"""A fake run folder in the layout `make demo` writes (RUN/pretrain, RUN/eval, RUN/bench,
RUN/provenance.json): two 2-step runs (SCAR, CLIP; transformer-tiny, hashing text encoder) on the
tiny synthetic store of the evaluation tests, metrics.json files in the schema of
``ecgfoundry evaluate``, and a benchmark output with tables, a figure and UMAP coordinates."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.eval.conftest import _single_thread, eval_store, one_thread  # noqa: F401


def fake_metrics(name: str, run, store, seed: int = 0, shift: float = 0.0, cmrs: bool = True) -> dict:
    """A metrics.json as `ecgfoundry evaluate` writes it (checked against the protocol's own renderer)."""
    rng = np.random.default_rng(seed + int(shift * 100))
    y, classes = store.labels("synthetic")

    def cell(auroc, severity=None, with_cmrs=False):
        d = {"auroc": auroc, "auroc_ci": [auroc - 0.05, min(auroc + 0.04, 1.0)], "auprc": auroc - 0.3,
             "f1": auroc - 0.4, "skipped": {"LQT": "no positives"}, "per_class": []}
        if severity is not None:
            d["severity"] = severity
        if with_cmrs:
            d.update(cmrs=float(rng.uniform(30, 90)), impact=0.05, resolution=0.5)
            d.update(cmrs_clean=d["cmrs"] + 1.5, cmrs_robust=-1.5, cmrs_robust_ci=[-2.5, -0.5],
                     reference_auroc=0.777)
            d.update(cmrs_ci=[d["cmrs"] - 6.0, d["cmrs"] + 5.0],
                     cmrs_per_class={c: d["cmrs"] - 3.0 * i for i, c in enumerate(classes)})
        return d

    missing = {kind: {mode: cell(0.8 + shift - 0.05 * i - 0.03 * j, 0.1 + 0.05 * i, cmrs)
                      for j, mode in enumerate(("rand", "hard"))}
               for i, kind in enumerate(("lead", "temporal", "joint"))}
    return {"model": str(run), "checkpoint": str(run / "checkpoints" / "x"), "data": str(store.path),
            "command": f"ecgfoundry evaluate --model {run} --out eval/{name}", "dataset": store.name,
            "label_set": "synthetic", "classes": list(classes), "n_train": 78, "n_val": 9,
            "n_test": int(len(store.split_indices("test"))), "seed": seed, "n_boot": 20, "n_candidates": 2,
            "prompts": "packaged", "prevalence": y.mean(0).tolist(),
            "reference": {"path": "ref", "val_auroc": 0.9, "encoder": "resnet1d-tiny"} if cmrs else None,
            "zero_shot": {"clean": cell(0.85 + shift), "missingness": missing},
            "linear_probe": [{"fraction": f, "n_train": int(78 * f) or 1, "best_epoch": 3, "val_auroc": 0.8,
                              "test_auroc": 0.75 + shift, "test_auroc_low": 0.7, "test_auroc_high": 0.8,
                              "test_auprc": 0.5, "test_f1": 0.4} for f in (0.01, 0.1, 1.0)],
            "adversarial": [{"head": "zero_shot", "attack": a, "eps": e, "auroc": 0.85 + shift - 4 * e,
                             "accuracy": 0.5 - 2 * e, "norm": "linf", "eps_unit": "mV"}
                            for a, e in (("none", 0.0), ("fgsm", 0.01), ("fgsm", 0.05), ("pgd", 0.01), ("pgd", 0.05))],
            "masker_attack": [{"attack": a, "budget": b, "severity": sev, "auroc": au, "accuracy": 0.4}
                              for a, b, sev, au in (("none", 0.0, 0.0, 0.85 + shift), ("masker", 0.3, 0.3, 0.7),
                                                    ("random tokens", 0.3, 0.3, 0.8))]}


def write_bench(folder, seed: int = 0, umap: str = "png") -> None:
    """A benchmark output in the layout `ecgfoundry bench --out` writes: summary.json, tables.md,
    tables/*.csv, figures/*.png (a UMAP as a PNG, or as coordinates in a CSV), folds.csv and a work/
    folder the report must not read."""
    import pandas as pd
    from matplotlib.figure import Figure

    from ecgfoundry.report.figures import fig_to_png

    (folder / "tables").mkdir(parents=True)
    (folder / "figures").mkdir()
    (folder / "work" / "results").mkdir(parents=True)
    rows = [{"model": m, "dataset": "synthetic", "classifier": c, "median_f1": 0.5 + 0.1 * i, "iqr": 0.05}
            for i, m in enumerate(("scar", "clip")) for c in ("logistic_regression", "random_forest")]
    pd.DataFrame(rows).to_csv(folder / "tables" / "headline.csv", index=False)
    pd.DataFrame(rows * 20).to_csv(folder / "folds.csv", index=False)
    pd.DataFrame(rows).to_csv(folder / "work" / "results" / "job.csv", index=False)
    (folder / "tables.md").write_text("# Holistic benchmark of frozen embeddings\n\nMedian F1 over folds.\n\n"
                                      "## Headline\n\n| model | F1 (IQR) | note |\n|---|---|---|\n"
                                      "| scar | 0.600 (0.050) | a \\| b |\n| clip | 0.500 (0.040) | – |\n")
    (folder / "summary.json").write_text(json.dumps({
        "command": "ecgfoundry bench --models scar clip", "models_order": ["scar", "clip"], "seed": seed,
        "seconds": {"embedding": 1.0, "grid": 10.0, "total": 12.5}, "cells": [{"n": i} for i in range(100)]}))
    fig = Figure(figsize=(3, 2))
    fig.subplots().bar(["scar", "clip"], [0.6, 0.5])
    (folder / "figures" / "shared_features.png").write_bytes(fig_to_png(fig, 60))
    (folder / "work" / "stray.png").write_bytes(fig_to_png(fig, 30))
    rng = np.random.default_rng(seed)
    xy = rng.normal(size=(40, 2))
    if umap == "png":
        fig = Figure(figsize=(3, 3))
        fig.subplots().scatter(xy[:, 0], xy[:, 1], s=4)
        (folder / "figures" / "umap_scar_CD.png").write_bytes(fig_to_png(fig, 60))
    else:
        pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "label": rng.choice(["NORM", "AF", "RBBB"], 40),
                      "model": ["scar"] * 20 + ["clip"] * 20}).to_csv(folder / "tables" / "umap.csv", index=False)


@pytest.fixture(scope="session")
def tiny_runs(eval_store, tmp_path_factory):
    """RUN/pretrain/{scar,clip}: 2-step runs with the tiny presets (the trainer's real layout)."""
    from ecgfoundry.models.config import TextConfig
    from ecgfoundry.models.registry import get_model_config
    from ecgfoundry.train.config import TrainConfig
    from ecgfoundry.train.loop import pretrain

    root = tmp_path_factory.mktemp("report_runs")
    with one_thread():
        for name in ("scar", "clip"):
            cfg = get_model_config(name, encoder="transformer-tiny", text=TextConfig(kind="hashing"))
            pretrain(cfg, TrainConfig(steps=2, batch_size=8, log_every=1, checkpoint_every=2, warmup_steps=1),
                     eval_store, root / name, progress=False)
    return root


@pytest.fixture()
def run_folder(tmp_path, tiny_runs, eval_store):
    """A complete run folder (copies the session's pretraining runs)."""
    import shutil

    root = tmp_path / "demo"
    for name in ("scar", "clip"):
        shutil.copytree(tiny_runs / name, root / "pretrain" / name)
        ev = root / "eval" / name
        ev.mkdir(parents=True)
        metrics = fake_metrics(name, root / "pretrain" / name, eval_store, shift=0.05 if name == "scar" else 0.0)
        (ev / "metrics.json").write_text(json.dumps(metrics))
    write_bench(root / "bench")
    (root / "provenance.json").write_text(json.dumps({
        "title": "ecgfoundry demo (test)", "seed": 0, "data": str(eval_store.path), "label_set": "synthetic",
        "started": "2025-01-01 10:00:00", "finished": "2025-01-01 10:12:00",
        "steps": [{"name": "pretrain SCAR", "command": "ecgfoundry pretrain --preset scar", "seconds": 300.0,
                   "returncode": 0},
                  {"name": "evaluate SCAR", "command": "ecgfoundry evaluate --model pretrain/scar", "seconds": 60.0,
                   "returncode": 0}],
        "versions": {"ecgfoundry": "0.1.0"}}))
    return root
