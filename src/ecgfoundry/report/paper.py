"""A 12-lead ECG drawn on ECG paper, with removed (masked) leads and spans shaded.

The drawing is to scale, in millimetres: paper speed 25 mm/s, gain 10 mm/mV, a pink grid of 1 mm
minor and 5 mm major squares, and a 1 mV calibration pulse (10 mm x 0.2 s) at the start of every
row. Two layouts:

``"12x1"``
    one row per lead over the whole record (every masked span is visible);
``"3x4"``
    the standard printout: four 2.5 s columns (I/II/III, aVR/aVL/aVF, V1-V3, V4-V6, each column
    showing its own quarter of the record) and a lead II rhythm strip over the whole record.

Masked samples are shaded per lead; the part of the trace the model did not see is drawn dashed
in grey (when the signal still holds it), the rest in black. matplotlib is imported here only.
"""

from __future__ import annotations

import numpy as np

from ecgfoundry.signals.leads import LEADS

__all__ = ["plot_ecg_paper", "runs", "LAYOUTS"]

LAYOUTS = ("12x1", "3x4")
PAPER = "#fff7f7"
MINOR = "#f7c9c9"
MAJOR = "#e79a9a"
REMOVED = "#3d6cb9"
UNOBSERVED = "#9a9a9a"
STANDARD_COLUMNS = (("I", "II", "III"), ("aVR", "aVL", "aVF"), ("V1", "V2", "V3"), ("V4", "V5", "V6"))


def runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` index pairs of the runs of True in a 1-D bool array.

    >>> runs(np.array([0, 1, 1, 0, 1], bool))
    [(1, 3), (4, 5)]
    """
    f = np.concatenate([[False], np.asarray(flags, bool), [False]])
    edges = np.flatnonzero(f[1:] != f[:-1])
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def _grid(ax, width: float, height: float) -> None:
    from matplotlib.collections import LineCollection

    ax.add_patch(_rect(0, 0, width, height, PAPER, zorder=0))
    for step, color, lw, z in ((1.0, MINOR, 0.25, 1), (5.0, MAJOR, 0.6, 2)):
        xs = np.arange(0, width + 1e-9, step)
        ys = np.arange(0, height + 1e-9, step)
        segs = [[(x, 0), (x, height)] for x in xs] + [[(0, y), (width, y)] for y in ys]
        ax.add_collection(LineCollection(segs, colors=color, linewidths=lw, zorder=z))


def _rect(x, y, w, h, color, alpha=1.0, zorder=3, **kw):
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), w, h, facecolor=color, edgecolor="none", alpha=alpha, zorder=zorder, **kw)


def _calibration(ax, x0: float, y0: float, gain: float, speed: float) -> float:
    """1 mV x 0.2 s pulse starting at (x0, y0); returns its end x."""
    w = 0.2 * speed
    q = w / 4
    xs = [x0, x0 + q, x0 + q, x0 + q + w / 2, x0 + q + w / 2, x0 + w + q / 2]
    ys = [y0, y0, y0 + gain, y0 + gain, y0, y0]
    ax.plot(xs, ys, color="black", lw=0.8, zorder=6, solid_joinstyle="miter")
    return xs[-1]


def _trace(ax, x0: float, y0: float, sig: np.ndarray, keep: np.ndarray, removed: np.ndarray,
           unobserved: np.ndarray, fs: float, speed: float, gain: float, band: float) -> None:
    """One lead segment: shading, hidden part dashed grey, visible part black."""
    t = x0 + np.arange(len(sig)) * speed / fs
    dx = speed / fs
    for flags, color in ((removed, REMOVED), (unobserved, UNOBSERVED)):
        for a, b in runs(flags):
            ax.add_patch(_rect(x0 + a * dx, y0 - band / 2, (b - a) * dx, band, color, alpha=0.22, zorder=3))
    y = y0 + gain * np.asarray(sig, dtype=float)
    hidden = removed & ~unobserved
    if hidden.any() and np.any(sig[hidden] != 0):
        ax.plot(t, np.where(hidden, y, np.nan), color="#666666", lw=0.6, ls=(0, (2, 1.5)), zorder=5)
    ax.plot(t, np.where(keep, y, np.nan), color="black", lw=0.7, zorder=6)


def plot_ecg_paper(signal, fs: float, removed=None, observed=None, layout: str = "12x1", title: str | None = None,
                   speed: float = 25.0, gain: float = 10.0, row_mm: float | None = None, leads=LEADS):
    """Draw a 12-lead ECG on ECG paper to scale; returns a matplotlib ``Figure``.

    Parameters
    ----------
    signal : array of shape (12, T), float, mV
        Canonical lead order. Samples under ``removed`` may still hold the original values (they are
        drawn dashed in grey) or be zero.
    fs : float, Hz
    removed : array of shape (12, T), bool, optional
        What a missingness mask removes (True = removed; :func:`ecgfoundry.eval.missingness.sample_masks`).
    observed : array of shape (12, T), bool, optional
        The record's own observed mask; unobserved samples are shaded grey.
    layout : {"12x1", "3x4"}
    title : str, optional
    speed : float, mm/s
    gain : float, mm/mV
    row_mm : float, optional
        Vertical distance between rows (default 20 mm for 12x1, 30 mm for 3x4).

    Examples
    --------
    >>> from ecgfoundry.eval.missingness import sample_masks
    >>> x = np.zeros((12, 1000), np.float32)
    >>> fig = plot_ecg_paper(x, 100.0, removed=sample_masks("joint", 1, 1000, rng=0)[0])
    >>> round(fig.get_figwidth() * 25.4)      # 10 s at 25 mm/s plus the margin for labels
    270
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    x = np.asarray(signal, dtype=float)
    if x.ndim != 2 or x.shape[0] != len(leads):
        raise ValueError(f"signal must be ({len(leads)}, T), got {x.shape}")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if not fs > 0:
        raise ValueError(f"fs must be positive, got {fs}")
    n_leads, n = x.shape
    rem = np.zeros(x.shape, bool) if removed is None else np.asarray(removed, bool)
    unobs = np.zeros(x.shape, bool) if observed is None else ~np.asarray(observed, bool)
    for name, arr in (("removed", rem), ("observed", unobs)):
        if arr.shape != x.shape:
            raise ValueError(f"{name} must have the shape of signal {x.shape}, got {arr.shape}")
    unobs = unobs & ~rem
    x = np.nan_to_num(x)
    keep = ~rem & ~unobs
    margin = 20.0  # lead names + calibration pulse
    seconds = n / fs
    index = {name: i for i, name in enumerate(leads)}

    if layout == "12x1":
        pitch = row_mm or 20.0
        rows = [[(index[name], 0, n)] for name in leads]
    else:
        pitch = row_mm or 30.0
        q = n // 4
        rows = [[(index[col[r]], c * q, (c + 1) * q if c < 3 else n) for c, col in enumerate(STANDARD_COLUMNS)]
                for r in range(3)]
        rows.append([(index["II"], 0, n)])
    top, bottom = 12.0 if title else 4.0, 10.0
    width = margin + seconds * speed
    width = 5.0 * np.ceil(width / 5.0)
    height = 5.0 * np.ceil((top + bottom + pitch * len(rows)) / 5.0)
    fig = Figure(figsize=(width / 25.4, height / 25.4))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    _grid(ax, width, height)
    for r, segments in enumerate(rows):
        y0 = height - top - pitch * (r + 0.5)
        _calibration(ax, 8.0, y0, gain, speed)
        for lead, a, b in segments:
            x0 = margin + a * speed / fs
            _trace(ax, x0, y0, x[lead, a:b], keep[lead, a:b], rem[lead, a:b], unobs[lead, a:b], fs, speed, gain,
                   band=pitch * 0.9)
            label_x = 2.0 if a == 0 else x0 + 1.0
            ax.text(label_x, y0 + pitch * 0.28, leads[lead], fontsize=7, fontweight="bold", zorder=7,
                    va="center", ha="left")
            if a > 0:  # column boundary tick
                ax.plot([x0, x0], [y0 - 3, y0 + 3], color="black", lw=0.8, zorder=6)
    if title:
        ax.text(2.0, height - 5.0, title, fontsize=8.5, va="center", ha="left", zorder=7)
    handles = [Patch(facecolor=REMOVED, alpha=0.3, label="removed by the missingness mask")]
    if unobs.any():
        handles.append(Patch(facecolor=UNOBSERVED, alpha=0.3, label="not recorded (unobserved)"))
    n_removed = int(rem.sum())
    scale = f"25 mm/s, 10 mm/mV, grid 1 mm / 5 mm; {n_removed / rem.size:.1%} of the 12 x T grid removed"
    if speed != 25.0 or gain != 10.0:
        scale = f"{speed:g} mm/s, {gain:g} mm/mV; " + scale.split("; ", 1)[1]
    ax.text(2.0, bottom / 2, scale, fontsize=6.5, va="center", ha="left", zorder=7)
    ax.legend(handles=handles, loc="lower right", fontsize=6.5, frameon=True, framealpha=0.9,
              bbox_to_anchor=(1.0, 0.0), borderaxespad=0.3, ncol=len(handles))
    return fig
