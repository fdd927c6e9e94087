"""The report's figures (matplotlib, Agg, no pyplot state): token-importance maps, AUROC / CMRS per
missingness type, UMAP scatter plots, adversarial curves, training curves, and PNG encoding.

Every ``plot_*`` function takes plain arrays / records and returns a ``matplotlib.figure.Figure``;
matplotlib is imported inside the functions. The ECG-paper drawing is in
:mod:`ecgfoundry.report.paper`.
"""

from __future__ import annotations

import io
import math
from typing import Any, Mapping, Sequence

import numpy as np

from ecgfoundry.signals.leads import LEADS

__all__ = ["fig_to_png", "plot_token_importance", "plot_missingness", "plot_umap", "plot_adversarial",
           "plot_training", "condition_order", "MODEL_COLORS"]

# SCAR first in a strong colour, baselines in muted ones.
MODEL_COLORS = ("#c0392b", "#5d6d7e", "#2e86c1", "#7d3c98", "#229954", "#b9770e", "#17202a")


def fig_to_png(fig, dpi: int = 110) -> bytes:
    """Encode a Figure as PNG bytes (Agg), white background, tight bounding box."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white", bbox_inches="tight", pad_inches=0.05)
    return buf.getvalue()


# ----------------------------------------------------------------------------- token importance

def plot_token_importance(importance, signal=None, fs: float | None = None, leads: Sequence[str] = LEADS,
                          title: str | None = None):
    """Heat maps of the selector weights alpha over leads x time, before and after removal.

    Parameters
    ----------
    importance : TokenImportance
        :func:`ecgfoundry.report.importance.token_importance`.
    signal : array of shape (12, T), optional
        Drawn as a thin trace in each lead's row for orientation.
    fs : float, Hz, optional
        Needed with ``signal``.
    """
    from matplotlib.colors import PowerNorm
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    ti = importance
    panels = [("before removal: full view", ti.before, None)]
    if ti.after is not None:
        cos = "" if math.isnan(ti.cosine) else f"; cos(z, z after) = {ti.cosine:.3f}"
        panels.append((f"after removing the top {ti.rho:.0%} of tokens by the masker's gate (hatched){cos}", ti.after,
                       ti.removed))
    n_leads, n_time = ti.before.shape
    duration = n_time * ti.patch_seconds
    vmax = max(float(np.nanmax(p[1])) for p in panels) or 1.0
    norm = PowerNorm(0.5, 0.0, vmax)  # square-root scale: small weights stay visible
    fig = Figure(figsize=(9.0, 3.1 * len(panels) + 0.4), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    image = None
    for ax, (name, alpha, removed) in zip(axes, panels):
        shown = np.where(ti.token_observed, alpha, np.nan)
        image = ax.imshow(shown, aspect="auto", cmap="viridis", norm=norm, interpolation="nearest",
                          extent=(0, duration, n_leads, 0))
        ax.set_facecolor("#d0d0d0")  # unobserved tokens
        if signal is not None and fs:
            x = np.asarray(signal, dtype=float)
            t = np.arange(x.shape[1]) / float(fs)
            for lead in range(min(n_leads, x.shape[0])):
                amp = np.max(np.abs(x[lead])) or 1.0
                ax.plot(t, lead + 0.5 - 0.42 * x[lead] / amp, color="white", lw=0.5, alpha=0.85)
        if removed is not None:
            for lead, p in zip(*np.nonzero(removed)):
                ax.add_patch(Rectangle((p * ti.patch_seconds, lead), ti.patch_seconds, 1, fill=False,
                                       hatch="xxx", edgecolor="#ff6f61", lw=0.0))
        ax.set_yticks(np.arange(n_leads) + 0.5)
        ax.set_yticklabels(list(leads)[:n_leads], fontsize=7)
        ax.set_xlim(0, duration)
        ax.set_ylim(n_leads, 0)
        ax.set_title(name, fontsize=9, loc="left")
        ax.tick_params(axis="x", labelsize=7)
    axes[-1].set_xlabel("time (s)", fontsize=8)
    cbar = fig.colorbar(image, ax=list(axes), fraction=0.025, pad=0.01)
    cbar.set_label(f"selector weight alpha ({ti.pooling} pooling; square-root scale)", fontsize=7)
    cbar.ax.tick_params(labelsize=6)
    if title:
        fig.suptitle(title, fontsize=9.5, x=0.01, ha="left")
    return fig


# ----------------------------------------------------------------------------- missingness

def condition_order(conditions: Sequence[str]) -> list[str]:
    """Order conditions as clean, lead, temporal, joint (rand before hard), then the rest.

    >>> condition_order(["joint hard", "lead rand", "clean", "joint rand"])
    ['clean', 'lead rand', 'joint rand', 'joint hard']
    """
    rank = {"clean": 0}
    for i, kind in enumerate(("lead", "temporal", "joint")):
        for j, mode in enumerate(("rand", "hard")):
            rank[f"{kind} {mode}"] = 1 + 2 * i + j
    return sorted(dict.fromkeys(conditions), key=lambda c: (rank.get(c, 99), c))


def _bars(ax, rows: Sequence[Mapping[str, Any]], key: str, models: list[str], conditions: list[str],
          colors: Mapping[str, str]) -> bool:
    width = 0.8 / max(len(models), 1)
    any_value = False
    for i, model in enumerate(models):
        xs, ys, lo, hi = [], [], [], []
        for j, cond in enumerate(conditions):
            row = next((r for r in rows if r["model"] == model and r["condition"] == cond), None)
            v = None if row is None else row.get(key)
            if v is None or not math.isfinite(v):
                continue
            ci = row.get(f"{key}_ci")
            xs.append(j - 0.4 + width * (i + 0.5))
            ys.append(v)
            ok = ci and len(ci) == 2 and all(c is not None and math.isfinite(c) for c in ci)
            lo.append(v - ci[0] if ok else 0.0)
            hi.append(ci[1] - v if ok else 0.0)
        if not xs:
            continue
        any_value = True
        err = np.array([lo, hi]) if any(lo) or any(hi) else None
        ax.bar(xs, ys, width * 0.92, color=colors[model], label=model, yerr=err, capsize=2,
               error_kw={"lw": 0.8, "ecolor": "#222222"})
    ax.set_xticks(range(len(conditions)))
    ax.set_xticklabels(conditions, fontsize=7, rotation=20, ha="right")
    ax.tick_params(axis="y", labelsize=7)
    ax.grid(axis="y", color="#dddddd", lw=0.5)
    ax.set_axisbelow(True)
    return any_value


def plot_missingness(rows: Sequence[Mapping[str, Any]], title: str | None = None):
    """Grouped bars of zero-shot macro AUROC and CMRS per missingness condition (95 % CI error bars).

    Parameters
    ----------
    rows : sequence of dict
        One per (model, condition): ``model``, ``condition`` (``"clean"``, ``"lead rand"``, ...),
        ``auroc``, optional ``auroc_ci`` (low, high), optional ``cmrs`` (0-100) and ``cmrs_ci``.
    """
    from matplotlib.figure import Figure

    models = list(dict.fromkeys(r["model"] for r in rows))
    if not models:
        raise ValueError("no rows to plot")
    colors = {m: MODEL_COLORS[i % len(MODEL_COLORS)] for i, m in enumerate(models)}
    conditions = condition_order([r["condition"] for r in rows])
    fig = Figure(figsize=(10.0, 3.6))
    ax_a, ax_c = fig.subplots(1, 2, gridspec_kw={"width_ratios": [len(conditions), max(len(conditions) - 1, 1)]})
    _bars(ax_a, rows, "auroc", models, conditions, colors)
    values = [r["auroc"] for r in rows if r.get("auroc") is not None and math.isfinite(r["auroc"])]
    low = min([*values, *[r["auroc_ci"][0] for r in rows if r.get("auroc_ci") and r["auroc_ci"][0] is not None]])
    ax_a.set_ylim(max(0.0, math.floor((low - 0.05) * 10) / 10) if values else 0.0, 1.0)
    ax_a.axhline(0.5, color="#888888", lw=0.8, ls="--")
    ax_a.set_title("zero-shot macro AUROC (95% bootstrap CI)", fontsize=9, loc="left")
    masked = [c for c in conditions if c != "clean"]
    has_cmrs = _bars(ax_c, rows, "cmrs", models, masked, colors)
    cmrs = [r["cmrs"] for r in rows if r.get("cmrs") is not None and math.isfinite(r["cmrs"])]
    cmrs += [r["cmrs_ci"][1] for r in rows if r.get("cmrs_ci") and r["cmrs_ci"][1] is not None]  # room for bars
    top = 100.0 if not cmrs or max(cmrs) > 40 else max(1.0, math.ceil(max(cmrs) * 1.3))
    ax_c.set_ylim(0, top)
    for container in ax_c.containers:
        if hasattr(container, "datavalues"):
            ax_c.bar_label(container, fmt="%.1f", fontsize=6, padding=1)
    ax_c.set_title("CMRS (of 100; higher = better resolved)", fontsize=9, loc="left")
    if not has_cmrs:
        ax_c.text(0.5, 0.5, "no CMRS (evaluated without a reference classifier)", ha="center", va="center",
                  transform=ax_c.transAxes, fontsize=8, color="#555555")
    ax_a.legend(fontsize=7, loc="lower left", framealpha=0.9)
    if title:
        fig.suptitle(title, fontsize=9.5, x=0.01, ha="left")
    fig.subplots_adjust(wspace=0.18)
    return fig


# ----------------------------------------------------------------------------- UMAP

def _label_names(labels: Sequence) -> list[str]:
    return [str(v) for v in labels]


def plot_umap(panels: Mapping[str, tuple[np.ndarray, Sequence]], title: str | None = None, max_legend: int = 24):
    """Scatter plots of 2-D UMAP coordinates, one panel per model, coloured by label.

    Parameters
    ----------
    panels : dict name -> (xy of shape (N, 2), labels of length N)
    """
    from matplotlib.figure import Figure

    if not panels:
        raise ValueError("no UMAP panels to plot")
    special = {"several": "#b0b0b0", "none": "#505050"}
    found = {lab for _, labels in panels.values() for lab in _label_names(labels)}
    all_labels = sorted(found - set(special)) + [lab for lab in special if lab in found]
    import matplotlib

    cmap = matplotlib.colormaps["tab20"]
    colors = {lab: special.get(lab, cmap(i % 20)) for i, lab in enumerate(all_labels)}
    n = len(panels)
    fig = Figure(figsize=(min(4.2 * n, 12.6) + 1.8, 4.0))
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax, (name, (xy, labels)) in zip(axes, panels.items()):
        xy = np.asarray(xy, dtype=float)
        labs = np.asarray(_label_names(labels))
        for lab in all_labels:
            sel = labs == lab
            if sel.any():
                ax.scatter(xy[sel, 0], xy[sel, 1], s=6, color=colors[lab], label=lab, alpha=0.8, lw=0)
        ax.set_title(name, fontsize=9, loc="left")
        ax.set_xticks([])
        ax.set_yticks([])
    handles, names = axes[0].get_legend_handles_labels()
    seen = dict(zip(names, handles))
    for ax in axes[1:]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(lab, h)
    keys = list(seen)[:max_legend]
    fig.legend([seen[k] for k in keys], keys, loc="center right", fontsize=7, markerscale=2, frameon=False)
    fig.subplots_adjust(right=1 - 1.6 / fig.get_figwidth(), wspace=0.05)
    if title:
        fig.suptitle(title, fontsize=9.5, x=0.01, ha="left")
    return fig


# ----------------------------------------------------------------------------- adversarial, training

def plot_adversarial(rows: Sequence[Mapping[str, Any]], title: str | None = None):
    """Macro AUROC against the attack budget eps, one line per (model, head, attack).

    ``rows``: ``model``, ``head``, ``attack`` (``"none"`` is eps 0 of every curve), ``eps``,
    ``eps_unit``, ``norm``, ``auroc``.
    """
    from matplotlib.figure import Figure

    if not rows:
        raise ValueError("no rows to plot")
    fig = Figure(figsize=(8.0, 3.4), layout="constrained")
    ax = fig.subplots()
    models = list(dict.fromkeys(r["model"] for r in rows))
    styles = {"fgsm": "-", "pgd": "--"}
    for i, model in enumerate(models):
        mine = [r for r in rows if r["model"] == model]
        clean = {r["head"]: r["auroc"] for r in mine if r["attack"] == "none"}
        for head in dict.fromkeys(r["head"] for r in mine):
            for attack in dict.fromkeys(r["attack"] for r in mine if r["attack"] != "none"):
                pts = sorted((r["eps"], r["auroc"]) for r in mine
                             if r["head"] == head and r["attack"] == attack and r["auroc"] is not None)
                if head in clean and clean[head] is not None:
                    pts = [(0.0, clean[head])] + pts
                if not pts:
                    continue
                ax.plot(*zip(*pts), marker="o", ms=3, lw=1.2, ls=styles.get(attack, ":"),
                        color=MODEL_COLORS[i % len(MODEL_COLORS)], alpha=1.0 if head == "zero_shot" else 0.55,
                        label=f"{model} / {head.replace('_', '-')} / {attack.upper()}")
    unit = rows[0].get("eps_unit", "")
    norm = rows[0].get("norm", "")
    ax.set_xlabel(f"eps ({unit}, {norm})", fontsize=8)
    ax.set_ylabel("macro AUROC", fontsize=8)
    ax.axhline(0.5, color="#888888", lw=0.8, ls="--")
    ax.tick_params(labelsize=7)
    ax.grid(color="#eeeeee", lw=0.5)
    ax.legend(fontsize=6.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    if title:
        ax.set_title(title, fontsize=9, loc="left")
    return fig


def plot_training(curves: Mapping[str, Mapping[str, Sequence[float]]], keys: Sequence[str] = ("align", "loss"),
                  title: str | None = None):
    """Training curves: one panel per key present, one line per run.

    ``curves``: run name -> column -> values (``step`` plus the metric columns of ``metrics.csv``).
    """
    from matplotlib.figure import Figure

    keys = [k for k in keys if any(k in c and len(c[k]) for c in curves.values())]
    if not keys:
        raise ValueError("no training curves to plot")
    fig = Figure(figsize=(4.2 * len(keys), 3.0))
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    for ax, key in zip(axes, keys):
        for i, (name, c) in enumerate(curves.items()):
            if key in c and len(c[key]):
                y = np.asarray(c[key], dtype=float)
                ax.plot(np.asarray(c["step"], dtype=float)[:len(y)], y, lw=1.0, label=name,
                        color=MODEL_COLORS[i % len(MODEL_COLORS)])
        ax.set_title({"align": "contrastive alignment loss (InfoNCE)", "loss": "total loss"}.get(key, key),
                     fontsize=9, loc="left")
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(color="#eeeeee", lw=0.5)
    axes[0].legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9.5, x=0.01, ha="left")
    return fig
