"""The benchmark's figures as PNG files (matplotlib, Agg backend, imported inside the functions).

* :func:`plot_shared_features`: for every model x task, the matrix of pairwise shared top-k SHAP
  feature rates between datasets (diagonal = 1), with the chance rate ``k / D`` in the title.
* :func:`plot_umap`: the 2-D UMAP of the common top-k features, coloured by label and by dataset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_shared_features(panels: Sequence[dict], path: str | Path) -> Path | None:
    """One heatmap per panel ``{"title", "datasets", "pairs" (DataFrame dataset_a, dataset_b, rate[, n_a, n_b]),
    "chance"[, "k"]}``.

    Returns the written path, or None when there is no panel.
    """
    panels = [p for p in panels if len(p["datasets"]) >= 2]
    if not panels:
        return None
    plt = _pyplot()
    n = len(panels)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    size = max(4.6, 0.55 * max(len(p["datasets"]) for p in panels) + 2.0)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows), squeeze=False)
    for ax, panel in zip(axes.ravel(), panels):
        names = list(panel["datasets"])
        m = np.eye(len(names))
        k = panel.get("k")
        for r in panel["pairs"].itertuples(index=False):
            i, j = names.index(r.dataset_a), names.index(r.dataset_b)
            m[i, j] = m[j, i] = r.rate
            if k and hasattr(r, "n_a"):  # diagonal: a set's own size over k (below 1 for a short top-k)
                m[i, i], m[j, j] = r.n_a / k, r.n_b / k
        im = ax.imshow(m, vmin=0, vmax=1, cmap="viridis")
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        for i in range(len(names)):
            for j in range(len(names)):
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if m[i, j] < 0.6 else "black")
        ax.set_title(f"{panel['title']}\n(chance {panel['chance']:.2f})", fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.suptitle("Shared top-k SHAP features across datasets (pairwise |A ∩ B| / k)", fontsize=10)
    return _save(plt, fig, path)


def plot_umap(coords: pd.DataFrame, title: str, path: str | Path, task: str = "label") -> Path:
    """Two panels of the UMAP points ``coords`` (columns x, y, label, dataset): by label, by dataset."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    for ax, column in zip(axes, ("label", "dataset")):
        groups = sorted(coords[column].unique(), key=str)
        cmap = plt.get_cmap("tab10" if len(groups) <= 10 else "tab20")
        for i, g in enumerate(groups):
            sel = coords[column] == g
            name = (f"{task} = {int(g)}" if column == "label" else str(g)) + f" (n={int(sel.sum())})"
            ax.scatter(coords.loc[sel, "x"], coords.loc[sel, "y"], s=6, alpha=0.7, color=cmap(i % cmap.N),
                       label=name, linewidths=0)
        ax.set_title(f"coloured by {column}", fontsize=9)
        ax.set_xticks([]), ax.set_yticks([])
        ax.legend(fontsize=7, markerscale=2, loc="best", frameon=False)
    fig.suptitle(title, fontsize=10)
    return _save(plt, fig, path)


def _save(plt, fig, path: str | Path) -> Path:
    """Lay out ``fig``, write it to ``path`` (PNG, parents created) and close it."""
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
