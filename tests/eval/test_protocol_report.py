"""The evaluation outputs' CMRS columns: CI and per-class CMRS in report.md, zero_shot.csv and the
figure, and metrics.json files written before those keys existed."""

from __future__ import annotations

import copy
import csv

import numpy as np
import pytest

from ecgfoundry.eval.protocol_report import markdown_report, write_figures, write_tables, zero_shot_rows


def _metrics() -> dict:
    def cell(cmrs, severity):
        return {"auroc": 0.7, "auroc_ci": [0.65, 0.75], "auprc": 0.4, "f1": 0.3, "skipped": {}, "per_class": [],
                "severity": severity, "cmrs": cmrs, "impact": 0.05, "resolution": 0.3,
                "cmrs_ci": [cmrs - 2.3, cmrs + 2.2], "cmrs_per_class": {"AF": cmrs + 10, "NORM": None}}

    return {"model": "m", "dataset": "synthetic", "label_set": "synthetic", "classes": ["AF", "NORM"],
            "n_test": 40, "n_val": 10, "seed": 0, "n_boot": 100,
            "zero_shot": {"clean": {"auroc": 0.8, "auroc_ci": [0.75, 0.85], "auprc": 0.5, "f1": 0.4,
                                    "skipped": {}, "per_class": []},
                          "missingness": {"lead": {"rand": cell(29.4, 0.2)}, "joint": {"hard": cell(12.0, 0.3)}}}}


def _old(metrics: dict) -> dict:
    """The same metrics without the keys added with the CMRS CI."""
    old = copy.deepcopy(metrics)
    for by_mode in old["zero_shot"]["missingness"].values():
        for d in by_mode.values():
            del d["cmrs_ci"], d["cmrs_per_class"]
    return old


def test_markdown_shows_cmrs_ci_and_per_class_table():
    text = markdown_report(_metrics())
    assert "| lead rand |" in text and "| 29.4 [27.1, 31.6] |" in text and "| 12.0 [9.7, 14.2] |" in text
    assert "Per-class CMRS" in text
    assert "| class | lead rand | joint hard |" in text
    assert "| AF | 39.4 | 22.0 |" in text and "| NORM | n/a | n/a |" in text
    old = markdown_report(_old(_metrics()))
    assert "| 29.4 |" in old and "[27.1" not in old and "Per-class CMRS" not in old


def test_zero_shot_rows_and_csv_carry_the_interval(tmp_path):
    rows = {r["condition"]: r for r in zero_shot_rows(_metrics())}
    assert (rows["lead rand"]["cmrs_low"], rows["lead rand"]["cmrs_high"]) == pytest.approx((27.1, 31.6))
    assert rows["clean"]["cmrs_low"] is None and rows["clean"]["cmrs"] is None
    old = {r["condition"]: r for r in zero_shot_rows(_old(_metrics()))}
    assert old["lead rand"]["cmrs"] == 29.4 and old["lead rand"]["cmrs_low"] is None
    write_tables(_metrics(), tmp_path)
    with open(tmp_path / "zero_shot.csv") as f:
        table = {r["condition"]: r for r in csv.DictReader(f)}
    assert float(table["joint hard"]["cmrs_low"]) == pytest.approx(9.7)
    assert float(table["joint hard"]["cmrs_high"]) == pytest.approx(14.2)


@pytest.mark.parametrize("old", [False, True])
def test_figure_with_and_without_interval(tmp_path, monkeypatch, old):
    pytest.importorskip("matplotlib")
    from matplotlib.axes import Axes

    calls = []
    bar = Axes.bar

    def spy(self, x, height, *args, **kwargs):
        calls.append((np.asarray(height, dtype=float), kwargs.get("yerr")))
        return bar(self, x, height, *args, **kwargs)

    monkeypatch.setattr(Axes, "bar", spy)
    m = _old(_metrics()) if old else _metrics()
    assert [p.name for p in write_figures(m, tmp_path)] == ["missingness.png"]
    assert (tmp_path / "missingness.png").stat().st_size > 0
    heights, yerr = calls[1]  # the CMRS panel: clean, lead rand, joint hard
    np.testing.assert_allclose(heights, [np.nan, 29.4, 12.0])
    want = np.zeros((2, 3)) if old else np.array([[0, 2.3, 2.3], [0, 2.2, 2.2]])
    np.testing.assert_allclose(yerr, want, atol=1e-9)


def _with_parts(metrics: dict) -> dict:
    """The metrics with what the stress test now writes per cell: F's AUROC and CMRS's clean /
    robust / self parts with their intervals (and F's clean AUROC)."""
    m = copy.deepcopy(metrics)
    zs = m["zero_shot"]
    zs["clean"].update(reference_auroc=0.91, reference_auroc_ci=[0.88, 0.94])
    for i, by_mode in enumerate(zs["missingness"].values()):
        for d in by_mode.values():
            d.update(reference_auroc=0.85 - 0.1 * i, reference_auroc_ci=[0.8 - 0.1 * i, 0.9 - 0.1 * i],
                     cmrs_clean=d["cmrs"] + 5.0, cmrs_clean_ci=[d["cmrs"] + 3.0, d["cmrs"] + 7.0],
                     cmrs_robust=-5.0, cmrs_robust_ci=[-6.5, -3.5], cmrs_self=88.0, cmrs_self_ci=[85.0, 91.0])
    return m


def test_markdown_shows_the_parts_of_cmrs_and_the_references_auroc():
    text = markdown_report(_with_parts(_metrics()))
    assert "### CMRS: clean agreement and robustness" in text and "ignores the mask" in text
    assert "| condition | severity | F AUROC [95% CI] | CMRS | CMRS clean |" in text
    assert "| clean | 0 | 0.910 [0.880, 0.940] | - | - | - | - |" in text
    assert ("| lead rand | 0.200 | 0.850 [0.800, 0.900] | 29.4 [27.1, 31.6] | 34.4 [32.4, 36.4] | "
            "-5.0 [-6.5, -3.5] | 88.0 [85.0, 91.0] |") in text
    assert "| joint hard | 0.300 | 0.750 [0.700, 0.800] | 12.0 [9.7, 14.2] | 17.0 [15.0, 19.0] |" in text
    # files written before the parts existed (or without a reference) get no such table
    assert "clean agreement and robustness" not in markdown_report(_metrics())


def test_csv_rows_carry_the_parts(tmp_path):
    rows = {r["condition"]: r for r in zero_shot_rows(_with_parts(_metrics()))}
    r = rows["joint hard"]
    assert (r["cmrs_clean"], r["cmrs_robust"], r["cmrs_self"]) == (17.0, -5.0, 88.0)
    assert (r["cmrs_robust_low"], r["cmrs_robust_high"]) == (-6.5, -3.5)
    assert (r["reference_auroc"], r["reference_auroc_low"]) == (pytest.approx(0.75), pytest.approx(0.7))
    assert rows["clean"]["reference_auroc"] == 0.91 and rows["clean"]["cmrs_clean"] is None
    write_tables(_with_parts(_metrics()), tmp_path)
    with open(tmp_path / "zero_shot.csv") as f:
        header = next(csv.reader(f))
    assert {"cmrs_clean", "cmrs_clean_low", "cmrs_self_high", "cmrs_robust", "reference_auroc_high"} <= set(header)
    assert write_figures(_with_parts(_metrics()), tmp_path)  # the clean part drawn as a marker on the CMRS bars
