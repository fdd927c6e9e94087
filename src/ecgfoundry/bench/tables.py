"""The benchmark's tables (Filice et al., arXiv 2601.21830) as DataFrames, CSV and Markdown.

* :func:`f1_table`: median F1 and IQR over the outer folds for every dataset x size x task x
  pooling x model, one column per classifier, with the cell's actual ``n``, patients
  (``n_patients``, the CV groups), records grouped with another of their patient's
  (``n_grouped``), positives and ``k``.
* :func:`headline_table`: the same cells with each model's best classifier on that dataset (the
  paper's "best classifier per model and dataset"), models side by side.
* :func:`best_table`: the best classifier per model and dataset.
* :func:`separability_table` / :func:`shared_table`: the representation analysis (label- and
  dataset-level kNN@10 agreement, centroid separation, GMM ARI; shared top-k SHAP features).

Markdown is written here (no extra dependency); numbers are rounded for reading only, the CSV
files keep full precision.
"""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

SIZE_ORDER = {"XS": 0, "S": 1, "M": 2, "L": 3}


def _fmt(x: Any, digits: int = 3) -> str:
    if isinstance(x, float):
        return "–" if pd.isna(x) else f"{x:.{digits}f}"
    return "" if x is None else str(x)


def to_markdown(df: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub-flavoured Markdown table of ``df`` (floats to ``digits`` decimals, NaN as "–")."""
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(_fmt(v, digits).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines)


def _order(df: pd.DataFrame, datasets: Sequence[str] | None = None) -> pd.DataFrame:
    keys = []
    if "dataset" in df.columns and datasets:
        rank = {d: i for i, d in enumerate(datasets)}
        df = df.assign(_d=df["dataset"].map(lambda d: rank.get(d, len(rank))))
        keys.append("_d")
    if "size" in df.columns:
        df = df.assign(_s=df["size"].map(lambda s: SIZE_ORDER.get(s, 9)))
        keys.append("_s")
    keys += [c for c in ("task", "pooling", "model") if c in df.columns]
    return df.sort_values(keys, kind="stable").drop(columns=[c for c in ("_d", "_s") if c in df.columns])


def _cell(median: float, iqr: float) -> str:
    return "–" if pd.isna(median) else f"{median:.3f} ({iqr:.3f})"


GROUP_COLUMNS = ("n_patients", "n_grouped")


def add_cells(summary: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """``summary`` with each cell's ``n``, ``n_pos``, ``n_neg``, ``k`` and, where known, ``n_patients``
    (CV groups) and ``n_grouped`` (records sharing their patient with another record of the cell)."""
    cols = ["dataset", "task", "size", "n", "n_pos", "n_neg", "k", *[c for c in GROUP_COLUMNS if c in cells.columns]]
    return summary.merge(cells[cols], on=["dataset", "task", "size"], how="left")


def _with_groups(index: list[str], s: pd.DataFrame) -> list[str]:
    """``index`` with the patient columns after ``n`` when the cells have them."""
    extra = [c for c in GROUP_COLUMNS if c in s.columns]
    at = index.index("n") + 1
    return index[:at] + extra + index[at:]


def f1_table(summary: pd.DataFrame, cells: pd.DataFrame, classifiers: Sequence[str],
             datasets: Sequence[str] | None = None) -> pd.DataFrame:
    """Wide table: one row per dataset x size x task x pooling x model, "median (IQR)" per classifier."""
    s = add_cells(summary, cells)
    s["value"] = [_cell(m, i) for m, i in zip(s["f1_median"], s["f1_iqr"])]
    index = _with_groups(["dataset", "size", "n", "n_pos", "k", "task", "pooling", "model"], s)
    return _wide(s, index, "classifier", classifiers, datasets)


def headline_table(summary: pd.DataFrame, best: pd.DataFrame, cells: pd.DataFrame, models: Sequence[str],
                   datasets: Sequence[str] | None = None) -> pd.DataFrame:
    """Rows dataset x size x task x pooling, one column per model: its best classifier's
    "median (IQR)" on that dataset, and the classifier's name."""
    s = add_cells(summary, cells).merge(best[["model", "dataset", "classifier"]], on=["model", "dataset", "classifier"])
    s["value"] = [f"{_cell(m, i)} {c}" for m, i, c in zip(s["f1_median"], s["f1_iqr"], s["classifier"])]
    index = _with_groups(["dataset", "size", "n", "k", "task", "pooling"], s)
    return _wide(s, index, "model", models, datasets)


def _wide(s: pd.DataFrame, index: list[str], column: str, names: Sequence[str],
          datasets: Sequence[str] | None) -> pd.DataFrame:
    """``s["value"]`` pivoted to one column per entry of ``names`` (``column``'s values; "–" where absent)."""
    wide = s.pivot_table(index=index, columns=column, values="value", aggfunc="first").reset_index()
    wide.columns.name = None
    for name in names:
        if name not in wide.columns:
            wide[name] = "–"
    return _order(wide[index + list(names)], datasets).reset_index(drop=True)


def best_table(best: pd.DataFrame, datasets: Sequence[str] | None = None) -> pd.DataFrame:
    """The best classifier per model and dataset, with the mean over its cells of median F1 and IQR."""
    out = best.rename(columns={"f1_median_mean": "mean median F1", "f1_iqr_mean": "mean IQR",
                               "n_cells": "cells"})
    return _order(out, datasets).reset_index(drop=True)


def separability_table(rows: list[dict]) -> pd.DataFrame:
    """Label- and dataset-level geometry per model x task (one row per level)."""
    cols = ["model", "task", "pooling", "level", "knn_agreement", "knn_chance", "centroid_separation", "gmm_ari", "n",
            "n_groups", "datasets"]
    return pd.DataFrame(rows, columns=cols)


def shared_table(rows: list[dict]) -> pd.DataFrame:
    """Shared top-k SHAP features per model x task (C_i* and where it was fitted, top-k sizes): mean pairwise
    rate, shared by all, chance rate of random sets of the same sizes."""
    cols = ["model", "task", "pooling", "fit_dataset", "classifier", "k", "dim", "top_sizes", "chance_rate",
            "mean_pairwise_rate", "shared_by_all", "shared_by_all_rate", "datasets"]
    return pd.DataFrame(rows, columns=cols)
