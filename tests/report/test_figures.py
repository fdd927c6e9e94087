"""Unit tests of the report's figures on tiny synthetic inputs."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from ecgfoundry.eval.missingness import sample_masks
from ecgfoundry.report.figures import (condition_order, fig_to_png, plot_adversarial, plot_missingness,
                                       plot_token_importance, plot_training, plot_umap)
from ecgfoundry.report.importance import token_importance, top_fraction
from ecgfoundry.report.paper import REMOVED, UNOBSERVED, plot_ecg_paper, runs

pytest.importorskip("matplotlib")


def _png_size(png: bytes) -> tuple[int, int]:
    from matplotlib.image import imread

    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    h, w = imread(io.BytesIO(png), format="png").shape[:2]
    return w, h


def _shaded(fig, color) -> list:
    from matplotlib.colors import to_rgba

    want = to_rgba(color)[:3]
    return [p for p in fig.axes[0].patches if np.allclose(p.get_facecolor()[:3], want)]


def _ecg(t=1000, fs=100.0, seed=0):
    from ecgfoundry.datasets.synthetic import generate

    ds = generate(1, fs=fs, seconds=t / fs, seed=seed)
    return np.asarray(ds.signal[0], dtype=np.float32)


# ----------------------------------------------------------------------------- ECG paper

def test_runs_known_answers():
    assert runs(np.array([], bool)) == []
    assert runs(np.array([1, 1, 1], bool)) == [(0, 3)]
    assert runs(np.array([0, 1, 0, 1, 1], bool)) == [(1, 2), (3, 5)]


@pytest.mark.parametrize("seconds, fs", [(10, 100.0), (5, 250.0)])
def test_paper_is_to_scale(seconds, fs):
    n = int(seconds * fs)
    fig = plot_ecg_paper(np.zeros((12, n), np.float32), fs)
    width_mm = fig.get_figwidth() * 25.4
    # 25 mm/s plus the 20 mm label margin, rounded up to a whole 5 mm square
    assert width_mm == pytest.approx(5 * np.ceil((20 + 25 * seconds) / 5))
    ax = fig.axes[0]
    assert ax.get_xlim() == pytest.approx((0, width_mm)) and ax.get_ylim()[1] == pytest.approx(fig.get_figheight() * 25.4)
    # a 1 mV step is drawn 10 mm tall: the trace of a constant 1 mV lead sits 10 mm above its baseline
    x = np.zeros((12, n), np.float32)
    x[0] = 1.0
    fig = plot_ecg_paper(x, fs)
    traces = [ln for ln in fig.axes[0].lines if ln.get_color() == "black" and len(ln.get_xdata()) == n]
    lead_i, lead_ii = traces[0].get_ydata(), traces[1].get_ydata()
    assert np.nanmean(lead_i) - (np.nanmean(lead_ii) + 20.0) == pytest.approx(10.0)  # rows 20 mm apart


def test_paper_grid_is_1mm_and_5mm():
    fig = plot_ecg_paper(np.zeros((12, 200), np.float32), 100.0)
    minor, major = fig.axes[0].collections[:2]
    xs_minor = sorted({seg[0][0] for seg in minor.get_segments() if seg[0][0] == seg[1][0]})
    xs_major = sorted({seg[0][0] for seg in major.get_segments() if seg[0][0] == seg[1][0]})
    assert np.allclose(np.diff(xs_minor), 1.0) and np.allclose(np.diff(xs_major), 5.0)


def test_paper_shades_every_removed_span():
    x = _ecg()
    removed = sample_masks("joint", 1, 1000, rng=3)[0]
    fig = plot_ecg_paper(x, 100.0, removed=removed)
    n_spans = sum(len(runs(removed[lead])) for lead in range(12))
    assert n_spans > 0 and len(_shaded(fig, REMOVED)) == n_spans
    assert not _shaded(fig, UNOBSERVED)
    # the visible trace has gaps exactly where samples are removed
    visible = [ln for ln in fig.axes[0].lines if ln.get_color() == "black" and len(ln.get_xdata()) == 1000]
    assert len(visible) == 12
    for lead, ln in enumerate(visible):
        assert np.array_equal(np.isnan(ln.get_ydata()), removed[lead])


def test_paper_unobserved_leads_and_3x4_layout():
    x = _ecg()
    observed = np.ones((12, 1000), bool)
    observed[7] = False  # V2 never recorded
    x[7] = 0
    fig = plot_ecg_paper(x, 100.0, observed=observed, layout="3x4")
    labels = [t.get_text() for t in fig.axes[0].texts if t.get_text() in
              ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")]
    assert sorted(labels) == sorted(["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6", "II"])
    assert len(_shaded(fig, UNOBSERVED)) == 1  # V2's quarter in its column
    w, h = _png_size(fig_to_png(fig, 50))
    assert w > h > 0


def test_paper_rejects_bad_input():
    with pytest.raises(ValueError, match="signal must be"):
        plot_ecg_paper(np.zeros((3, 100)), 100.0)
    with pytest.raises(ValueError, match="layout"):
        plot_ecg_paper(np.zeros((12, 100)), 100.0, layout="6x2")
    with pytest.raises(ValueError, match="removed must have"):
        plot_ecg_paper(np.zeros((12, 100)), 100.0, removed=np.zeros((12, 50), bool))


# ----------------------------------------------------------------------------- token importance

@pytest.fixture(scope="module")
def scar_model():
    from ecgfoundry.models.config import TextConfig
    from ecgfoundry.models.registry import create_model

    torch.manual_seed(0)
    model = create_model("scar", encoder="transformer-tiny", text=TextConfig(kind="hashing"))
    with torch.no_grad():  # a non-trivial masker and selector (random output layers)
        for p in list(model.masker.parameters()) + list(model.selector.parameters()):
            p.add_(0.3 * torch.randn_like(p))
    return model.eval()


def test_top_fraction_known_answer():
    scores = torch.tensor([[0.1, 0.9, 0.5, 0.7, 0.3], [5.0, 1.0, 2.0, 3.0, 4.0]])
    obs = torch.tensor([[True, True, True, True, True], [False, True, True, True, True]])
    out = top_fraction(scores, obs, 0.4)
    assert out.tolist() == [[False, True, False, True, False], [False, False, False, True, True]]
    assert not top_fraction(scores, obs, 0.0).any()


def test_token_importance_weights_are_the_pooling_weights(scar_model):
    x = _ecg()
    obs = np.ones_like(x, dtype=bool)
    obs[4] = False  # aVL missing: its tokens are unobserved and get no weight
    x[4] = 0
    ti = token_importance(scar_model, x, obs)
    assert ti.before.shape == (12, 20) and ti.pooling == "selector"
    assert ti.before.sum() == pytest.approx(1.0, abs=1e-5) and ti.after.sum() == pytest.approx(1.0, abs=1e-5)
    assert np.all(ti.before[4] == 0) and np.all(ti.after[4] == 0) and not ti.token_observed[4].any()
    n_obs = int(ti.token_observed.sum())
    assert int(ti.removed.sum()) == int(0.3 * n_obs + 0.5) and not (ti.removed & ~ti.token_observed).any()
    assert np.all(ti.after[ti.removed] == 0)
    # the removed tokens are those with the largest gates
    assert ti.gate[ti.removed].min() >= ti.gate[ti.token_observed & ~ti.removed].max()
    # pooling the encoder's tokens with these weights gives the model's own embedding
    xt, ot = torch.as_tensor(x[None]), torch.as_tensor(obs[None])
    with torch.no_grad():
        h = scar_model.ecg_tokens(xt, ot).tokens[0]
        z = torch.nn.functional.normalize(scar_model.ecg_proj(torch.as_tensor(ti.before.ravel(), dtype=h.dtype) @ h),
                                          dim=-1)
        assert torch.allclose(z, scar_model.encode_ecg(xt, ot)[0], atol=1e-5)
    assert ti.patch_seconds == pytest.approx(0.5)
    # the cosine to the full view, recomputed by removing the tokens' samples from the record itself
    from ecgfoundry.eval.masker_attack import token_removal_to_signal

    gone = token_removal_to_signal(ti.removed.reshape(1, -1), 12, x.shape[-1], 50)[0]
    x_rem, obs_rem = np.where(gone, 0, x).astype(np.float32), obs & ~gone
    with torch.no_grad():
        z_rem = scar_model.encode_ecg(torch.as_tensor(x_rem[None]), torch.as_tensor(obs_rem[None]))[0]
        assert ti.cosine == pytest.approx(float(z_rem @ scar_model.encode_ecg(xt, ot)[0]), abs=1e-4)
    assert ti.cosine < 0.9999  # the removal changed the embedding


def test_token_importance_without_selector_or_masker():
    from ecgfoundry.models.config import TextConfig
    from ecgfoundry.models.registry import create_model

    clip = create_model("clip", encoder="transformer-tiny", text=TextConfig(kind="hashing"))
    ti = token_importance(clip, _ecg(), np.ones((12, 1000), bool))
    assert ti.pooling == "mean" and ti.after is None and np.isnan(ti.cosine)
    assert np.allclose(ti.before, 1 / 240)
    resnet = create_model("clip", encoder="resnet1d-tiny", text=TextConfig(kind="hashing"))
    with pytest.raises(ValueError, match="lead x time tokens"):
        token_importance(resnet, _ecg(), np.ones((12, 1000), bool))


def test_token_importance_figure(scar_model):
    x = _ecg()
    ti = token_importance(scar_model, x, np.ones_like(x, dtype=bool))
    fig = plot_token_importance(ti, x, 100.0, title="t")
    heatmaps = [ax for ax in fig.axes if ax.images]
    assert len(heatmaps) == 2
    hatched = [p for p in heatmaps[1].patches if p.get_hatch()]
    assert len(hatched) == int(ti.removed.sum()) and not any(p.get_hatch() for p in heatmaps[0].patches)
    w, h = _png_size(fig_to_png(fig, 40))
    assert w > 0 and h > 0


# ----------------------------------------------------------------------------- results figures

def _rows():
    rows = []
    for model, shift in (("scar", 0.05), ("clip", 0.0)):
        rows.append({"model": model, "condition": "clean", "auroc": 0.85 + shift, "auroc_ci": [0.8, 0.9]})
        for cond in ("joint hard", "lead rand", "temporal rand", "joint rand"):
            rows.append({"model": model, "condition": cond, "auroc": 0.75 + shift, "auroc_ci": [0.7, 0.8],
                         "cmrs": 60 + 100 * shift})
    return rows


def test_condition_order():
    assert condition_order(["joint hard", "clean", "temporal hard", "lead rand", "other"]) == \
        ["clean", "lead rand", "temporal hard", "joint hard", "other"]


def test_missingness_bars():
    fig = plot_missingness(_rows())
    ax_a, ax_c = fig.axes
    assert len(ax_a.patches) == 2 * 5 and len(ax_c.patches) == 2 * 4
    heights = sorted(round(p.get_height(), 3) for p in ax_c.patches)
    assert heights == [60.0] * 4 + [65.0] * 4
    assert [t.get_text() for t in ax_a.get_xticklabels()] == ["clean", "lead rand", "temporal rand", "joint rand",
                                                              "joint hard"]
    from matplotlib.container import BarContainer

    bars = [c for c in ax_a.containers if isinstance(c, BarContainer)]
    assert len(bars) == 2 and all(c.errorbar is not None for c in bars)  # CI error bars
    cmrs_bars = [c for c in ax_c.containers if isinstance(c, BarContainer)]
    assert len(cmrs_bars) == 2 and all(c.errorbar is None for c in cmrs_bars)  # no cmrs_ci: no error bars
    fig = plot_missingness([dict(r, cmrs_ci=[r["cmrs"] - 5, r["cmrs"] + 4]) if "cmrs" in r else r for r in _rows()])
    cmrs_bars = [c for c in fig.axes[1].containers if isinstance(c, BarContainer)]
    assert all(c.errorbar is not None for c in cmrs_bars)
    segs = [seg for c in cmrs_bars for seg in c.errorbar.lines[2][0].get_segments()]
    assert sorted({(round(s[0][1], 6), round(s[1][1], 6)) for s in segs}) == [(55.0, 64.0), (60.0, 69.0)]
    no_cmrs = [dict(r, cmrs=None) for r in _rows()]
    fig = plot_missingness(no_cmrs)
    assert not fig.axes[1].patches and "no CMRS" in " ".join(t.get_text() for t in fig.axes[1].texts)
    with pytest.raises(ValueError):
        plot_missingness([])


def test_umap_adversarial_training_figures():
    rng = np.random.default_rng(0)
    fig = plot_umap({"scar": (rng.normal(size=(30, 2)), ["AF"] * 10 + ["NORM"] * 20),
                     "clip": (rng.normal(size=(30, 2)), ["RBBB"] * 30)})
    assert len(fig.axes) == 2
    assert sorted(t.get_text() for t in fig.legends[0].get_texts()) == ["AF", "NORM", "RBBB"]
    adv = [{"model": "scar", "head": "zero_shot", "attack": a, "eps": e, "auroc": 0.9 - e, "norm": "linf",
            "eps_unit": "mV"} for a, e in (("none", 0.0), ("fgsm", 0.01), ("pgd", 0.01), ("pgd", 0.05))]
    fig = plot_adversarial(adv)
    lines = {ln.get_label(): ln for ln in fig.axes[0].lines if not ln.get_label().startswith("_")}
    assert list(lines["scar / zero-shot / PGD"].get_xdata()) == [0.0, 0.01, 0.05]
    fig = plot_training({"scar": {"step": [1, 2, 3], "align": [3.0, 2.5, 2.0], "loss": [3.1, 2.6, 2.1]}})
    assert len(fig.axes) == 2
    with pytest.raises(ValueError):
        plot_training({"x": {"step": [1]}})
