"""The study's aggregation: runs table, mean / sd over seeds (known values), Markdown, plot, subsets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecgfoundry.eval.robustness_study import _subset, markdown_table, plot_curves, runs_table, summarize


def _result(obj, seed, clean, curve):
    return {"objective": obj, "seed": seed, "n_test": 10, "n_attack": 8, "label_set": "x",
            "clean": {"auroc": clean, "accuracy": clean / 2},
            "curve": [{"attack": a, "eps": e, "auroc": v, "accuracy": None if v is None else v / 2}
                      for a, e, v in curve]}


RESULTS = [
    _result("simclr", 0, 0.8, [("none", 0.0, 0.79), ("pgd", 0.1, 0.5)]),
    _result("simclr", 1, 0.6, [("none", 0.0, 0.61), ("pgd", 0.1, 0.3)]),
    _result("clip", 0, 0.7, [("none", 0.0, 0.7), ("pgd", 0.1, None)]),
]


def test_runs_table_and_summary_known_values():
    t = runs_table(RESULTS)
    assert len(t) == 9 and list(t["attack"][:3]) == ["clean", "none", "pgd"]
    assert np.isnan(t.loc[(t["objective"] == "clip") & (t["attack"] == "pgd"), "auroc"]).all()
    s = summarize(t, order=["clip", "simclr"])
    assert list(dict.fromkeys(s["objective"])) == ["clip", "simclr"]
    row = s[(s["objective"] == "simclr") & (s["attack"] == "clean")].iloc[0]
    assert row["auroc_mean"] == pytest.approx(0.7) and row["auroc_sd"] == pytest.approx(np.std([0.8, 0.6], ddof=1))
    assert row["accuracy_mean"] == pytest.approx(0.35) and row["n_seeds"] == 2
    assert np.isnan(s[(s["objective"] == "clip") & (s["attack"] == "clean")]["auroc_sd"]).all()  # one seed


def test_markdown_table_cells():
    s = summarize(runs_table(RESULTS))
    md = markdown_table(s, "auroc", "mV")
    lines = md.splitlines()
    assert lines[0] == "| objective | clean (all test) | clean (attack set) | PGD 0.1 mV |"
    assert lines[2].startswith("| simclr | 0.700 ± 0.141 | 0.700 ± 0.127 | 0.400 ± 0.141 |")
    assert lines[3] == "| clip | 0.700 | 0.700 | n/a |"
    assert "clean (attack set)" not in markdown_table(s, "auroc", "mV", attack_set_is_test=True)


def test_plot_and_subset(tmp_path):
    t = runs_table(RESULTS)
    path = plot_curves(t, tmp_path / "p.png", title="t")
    assert path.exists() and path.stat().st_size > 1000
    a, b = _subset(100, 10, 3), _subset(100, 10, 3)
    assert np.array_equal(a, b) and len(set(a)) == 10 and not np.array_equal(a, _subset(100, 10, 4))
    assert np.array_equal(_subset(5, None, 0), np.arange(5)) and np.array_equal(_subset(5, 9, 0), np.arange(5))


def test_paired_difference_and_gap_lines_known_answer():
    from ecgfoundry.eval.robustness_study import UNTRAINED, gap_lines, paired_difference, summarize

    rows = []
    for obj, vals in (("a", (0.8, 0.7)), ("b", (0.6, 0.65)), (UNTRAINED, (0.5, 0.52))):
        for seed, v in enumerate(vals):
            rows.append({"objective": obj, "seed": seed, "attack": "clean", "eps": 0.0, "auroc": v, "accuracy": v,
                         "n": 10})
    table = pd.DataFrame(rows)
    # per seed a - b = 0.2, 0.05: mean 0.125, sample sd 0.15 / sqrt(2) = 0.106, both > 0
    assert paired_difference(table, "clean", 0.0, "a", "b") == "+0.125 ± 0.106 (2/2 seeds > 0)"
    lines = gap_lines(summarize(table), table, attack_set_is_test=False)
    # best a (mean 0.75), worst b (0.625): gap 0.125; mean seed sd of a and b = (0.0707 + 0.0354) / 2 = 0.053
    assert lines[2] == ("| clean (all test) | a (0.750) | b (0.625) | 0.125 | 0.053 | 2.4 | "
                        "+0.125 ± 0.106 (2/2 seeds > 0) | 0.510 |")


def test_auroc_drop_known_answer_and_its_gap_table():
    """The attack's cost per run is clean-on-the-attack-set minus attacked, and the robustness gap table
    ranks by that loss, not by the absolute AUROC (which also carries clean accuracy)."""
    from ecgfoundry.eval.robustness_study import gap_lines

    results = [  # "hi" is better clean but loses more to the attack than "lo"
        _result("hi", 0, 0.90, [("none", 0.0, 0.90), ("pgd", 0.1, 0.60)]),
        _result("hi", 1, 0.92, [("none", 0.0, 0.92), ("pgd", 0.1, 0.64)]),
        _result("lo", 0, 0.70, [("none", 0.0, 0.70), ("pgd", 0.1, 0.55)]),
        _result("lo", 1, 0.72, [("none", 0.0, 0.72), ("pgd", 0.1, 0.52)]),
    ]
    t = runs_table(results)
    pgd = t[t["attack"] == "pgd"].set_index(["objective", "seed"])["auroc_drop"]
    assert pgd[("hi", 0)] == pytest.approx(0.30) and pgd[("lo", 1)] == pytest.approx(0.20)
    assert t.loc[t["attack"] == "none", "auroc_drop"].eq(0).all() and t.loc[t["attack"] == "clean", "auroc_drop"].isna().all()
    s = summarize(t)
    row = s[(s["objective"] == "hi") & (s["attack"] == "pgd")].iloc[0]
    assert row["auroc_drop_mean"] == pytest.approx(0.29) and row["auroc_drop_sd"] == pytest.approx(np.std([0.3, 0.28], ddof=1))
    assert markdown_table(s, "auroc_drop", "mV").splitlines()[0] == "| objective | PGD 0.1 mV |"
    by_auroc = gap_lines(s, t, attack_set_is_test=False)
    by_drop = gap_lines(s, t, attack_set_is_test=False, metric="auroc_drop")
    assert by_auroc[-1].startswith("| PGD 0.1 | hi (0.620) | lo (0.535) |")
    # loss: hi 0.30, 0.28 (mean 0.29); lo 0.15, 0.20 (mean 0.175); worst - best per seed 0.15, 0.08
    assert len(by_drop) == 3 and by_drop[2].startswith("| PGD 0.1 | lo (0.175) | hi (0.290) | 0.115 |")
    assert "+0.115 ± 0.049 (2/2 seeds > 0)" in by_drop[2]
