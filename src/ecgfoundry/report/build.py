"""Write the report of a run folder: ``report.html`` (self-contained) and ``report.md`` + PNGs.

What it shows, each part only when its inputs exist (a note says what is missing and how to get it):

1. what was run: commands, seeds, durations, versions (``provenance.json``, the runs' configs);
2. a 12-lead ECG of a test record on ECG paper with the joint Rand. mask the evaluation used shaded;
3. the SCAR selector's token importance over leads x time before and after adversarial removal;
4. zero-shot AUROC and CMRS per missingness type, SCAR against the baseline(s);
5. linear probe and adversarial robustness (when evaluated);
6. the UMAP of the embeddings (from the benchmark output, else computed from the test records);
7. the benchmark tables and figures; 8. the pretraining curves.

The run folder layout is described in :mod:`ecgfoundry.report.collect`.
"""

from __future__ import annotations

import json
import math
import platform
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ecgfoundry.report.collect import EvalRun, PretrainRun, RunFolder, scan_run
from ecgfoundry.report.document import Code, Document, Figure, Note, Section, Table, Text

__all__ = ["ReportOptions", "ReportResult", "write_report", "build_document"]


@dataclass(frozen=True)
class ReportOptions:
    """How the report is drawn (``ecgfoundry report`` flags map onto these fields)."""

    data: str | None = None          # dataset or cache folder for the ECG figures (default: provenance / metrics)
    label_set: str | None = None
    seed: int | None = None          # record choice and masks (default: the evaluation's seed, else 0)
    layout: str = "12x1"             # ECG paper layout: "12x1" or "3x4"
    umap: bool = True                # compute a UMAP when the benchmark output has none
    umap_points: int = 600           # test records embedded for a computed UMAP
    dpi: int = 110
    title: str | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        from ecgfoundry.report.paper import LAYOUTS

        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {self.layout!r}")
        if self.umap_points < 10:
            raise ValueError(f"umap_points must be >= 10, got {self.umap_points}")
        if not 30 <= self.dpi <= 600:
            raise ValueError(f"dpi must be in [30, 600], got {self.dpi}")


@dataclass
class ReportResult:
    html: Path
    markdown: Path
    figures: list[Path]
    notes: list[str]
    seconds: float


@dataclass
class _Ctx:
    run: RunFolder
    opts: ReportOptions
    notes: list[str] = field(default_factory=list)
    models: dict[str, Any] = field(default_factory=dict)
    store: Any = None
    store_error: str | None = None
    label_set: str | None = None
    seed: int = 0

    def note(self, section: Section, text: str) -> None:
        self.notes.append(text)
        section.add(Note(text))

    def png(self, fig) -> bytes:
        from ecgfoundry.report.figures import fig_to_png

        return fig_to_png(fig, self.opts.dpi)


# ----------------------------------------------------------------------------- formatting helpers

def _fmt(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _ci(v, ci, digits: int = 3) -> str:
    s = _fmt(v, digits)
    if ci and len(ci) == 2 and all(c is not None for c in ci):
        s += f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"
    return s


def _seconds(s) -> str:
    if s is None:
        return "n/a"
    s = float(s)
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"


def _label(ev: EvalRun) -> str:
    if ev.pretrain is not None and ev.pretrain.preset not in ev.name:
        return f"{ev.name} ({ev.pretrain.preset})"
    return ev.name


def _resolve(path: str | Path | None, root: Path, base: Path | None = None) -> Path | None:
    """A path as a run folder records it: absolute, or relative to the file's own folder ``base``
    (what ``pretrain``, ``evaluate`` and the demo write), the run folder, the current directory
    (older files) or the run folder's parent."""
    if not path:
        return None
    p = Path(path)
    bases = ([base] if base is not None else []) + [root, Path.cwd(), root.parent]
    for cand in ([p] if p.is_absolute() else [b / p for b in bases]):
        if cand.exists():
            return cand
    return None


# ----------------------------------------------------------------------------- what was run

def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("ecgfoundry", "torch", "numpy", "scikit-learn", "matplotlib", "umap-learn", "transformers"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    try:
        here = Path(__file__).resolve().parent
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=5)
        if commit.returncode == 0 and commit.stdout.strip():
            out["git commit"] = commit.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def _last_row(csv_path: Path | None) -> dict[str, Any]:
    if csv_path is None:
        return {}
    import pandas as pd

    try:
        df = pd.read_csv(csv_path)
    except Exception:  # an empty or half-written log is not an error for the report
        return {}
    return {} if df.empty else df.iloc[-1].to_dict()


def _section_run(ctx: _Ctx) -> Section:
    run, prov = ctx.run, ctx.run.provenance
    s = Section("What was run")
    facts = [f"Run folder `{run.root}`"]
    if prov.get("seed") is not None:
        facts.append(f"seed {prov['seed']}")
    if prov.get("started"):
        facts.append(f"started {prov['started']}" + (f", finished {prov['finished']}" if prov.get("finished") else ""))
    steps = prov.get("steps") or []
    total = sum(float(x.get("seconds") or 0) for x in steps)
    if steps:
        facts.append(f"total {_seconds(total)}")
    s.add(Text("; ".join(facts) + "."))
    if steps:
        s.add(Table(["step", "command", "duration", "exit"],
                    [[x.get("name", ""), f"`{x.get('command', '')}`", _seconds(x.get("seconds")),
                      _fmt(x.get("returncode"))] for x in steps],
                    caption="Every step of the run, in order (from `provenance.json`)."))
    else:
        ctx.note(s, f"no `provenance.json` in `{run.root}`: the commands below are reconstructed from the "
                 "runs' own files (`make demo` writes it).")
    if run.pretrain:
        rows = []
        for r in run.pretrain:
            enc = r.model_cfg.get("encoder", {})
            enc_name = enc if isinstance(enc, str) else f"{enc.get('kind', '?')} d{enc.get('d_model', '')}".strip()
            text = r.model_cfg.get("text", {})
            last = _last_row(r.metrics_csv)
            rows.append([r.name, r.preset, r.role, enc_name, text.get("model", text.get("kind", "?")),
                         _fmt(r.train_cfg.get("steps")), _fmt(r.train_cfg.get("batch_size")),
                         _fmt(r.train_cfg.get("seed")), _seconds(last.get("elapsed_s")),
                         _fmt(last.get("align"))])
        s.add(Table(["run", "preset", "role", "ECG encoder", "text encoder", "steps", "batch", "seed", "wall time",
                     "final align loss"], rows, caption="Pretraining runs (`ecgfoundry pretrain`)."))
    if run.evals:
        rows = []
        for ev in run.evals:
            m = ev.metrics
            rows.append([ev.name, m.get("dataset", "?"), m.get("label_set", "?"),
                         f"{m.get('n_train', '?')}/{m.get('n_val', '?')}/{m.get('n_test', '?')}", _fmt(m.get("seed")),
                         _fmt(m.get("n_boot")), "yes" if m.get("reference") else "no",
                         f"`{m['command']}`" if m.get("command") else "n/a"])
        s.add(Table(["evaluation", "dataset", "label set", "train/val/test", "seed", "bootstrap", "reference F",
                     "command"], rows, caption="Evaluations (`ecgfoundry evaluate`)."))
    versions = {**_versions(), **{f"run: {k}": str(v) for k, v in (prov.get("versions") or {}).items()}}
    versions["report written"] = time.strftime("%Y-%m-%d %H:%M:%S")
    s.add(Table(["component", "version"], [[k, v] for k, v in versions.items()],
                caption="Versions (of this report; `run:` entries as recorded by the run)."))
    return s


# ----------------------------------------------------------------------------- data and models

def _model_fs(run: RunFolder) -> float:
    """Sampling rate the pretrained encoders expect (100 Hz when no run says)."""
    for r in run.pretrain:
        enc = r.model_cfg.get("encoder")
        if isinstance(enc, dict) and enc.get("fs"):
            return float(enc["fs"])
    return 100.0


def _open_store(ctx: _Ctx):
    """The dataset cache for the ECG figures, or None (with ``store_error`` set).

    The first of ``--data``, provenance ``data`` and the evaluations' ``data`` that exists: a cache
    folder is used as is; for a dataset folder, a cache of it under the run folder, the user cache
    (``ecgfoundry.cache.stores_dir``) or ``./runs/cache``
    (preferring the models' sampling rate), else one is built under ``RUN/cache``.
    """
    from ecgfoundry.io.store import ArrayStore, HarmonizeSpec, open_store

    root, run = ctx.run.root, ctx.run
    fs = _model_fs(run)
    candidates = ([(ctx.opts.data, Path.cwd()), (run.provenance.get("data"), root)]
                  + [(ev.metrics.get("data"), ev.path) for ev in run.evals])
    for raw, base in candidates:
        path = _resolve(raw, root, base)
        if path is None:
            continue
        if (path / "store.json").exists():
            return ArrayStore(path)
        from ecgfoundry.cache import LEGACY_STORES, stores_dir

        caches = sorted(root.rglob("store.json"))
        for shared in (stores_dir(), LEGACY_STORES):  # the user cache, and ./runs/cache of older versions
            if shared.is_dir():
                caches += sorted(shared.glob("*/store.json"))
        matches = []
        for store_json in caches:
            try:
                info = json.loads(store_json.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            if info.get("source") == str(path.resolve()):
                matches.append((abs(float(info.get("fs", 0)) - fs) > 1e-6, store_json.parent))
        if matches:
            return ArrayStore(min(matches, key=lambda m: m[0])[1])
        return open_store(path, HarmonizeSpec(fs=fs, seconds=10.0), root / "cache", progress=ctx.opts.progress)
    ctx.store_error = ("no dataset for the ECG figures: pass `--data DIR` or record `data` in `provenance.json` "
                       "(or evaluate the models with `ecgfoundry evaluate`, whose metrics.json names its data)")
    return None


def _model(ctx: _Ctx, run: PretrainRun):
    if run.name not in ctx.models:
        from ecgfoundry.report.models import load_ecg_model

        ctx.models[run.name] = load_ecg_model(run.checkpoint)
    return ctx.models[run.name]


def _scar_run(ctx: _Ctx) -> PretrainRun | None:
    for r in ctx.run.pretrain:
        if r.checkpoint is not None and r.model_cfg.get("masker", {}).get("mode") == "adversarial" \
                and r.model_cfg.get("selector", {}).get("enabled"):
            return r
    return None


def _example_record(ctx: _Ctx):
    """(position in the test split, test indices, batch of that one record)."""
    store = ctx.store
    test = store.split_indices("test")
    if len(test) == 0:
        test = np.arange(len(store))
    y, classes = store.labels(ctx.label_set)
    order = np.random.default_rng(ctx.seed).permutation(len(test))
    pick = int(order[0])
    normal = [i for i, c in enumerate(classes) if c.upper() in ("NORM", "NORMAL", "SR")]
    for pos in order:  # prefer a record with a finding that is not "normal"
        pos_labels = np.flatnonzero(y[test[pos]] > 0)
        if len(pos_labels) and not set(pos_labels) <= set(normal):
            pick = int(pos)
            break
    batch = store.batch(test[[pick]], ctx.label_set)
    return pick, test, batch


def _record_caption(batch) -> str:
    labels = [c for c, v in zip(batch.classes, batch.labels[0]) if v > 0] if batch.labels is not None else []
    text = (batch.texts or [""])[0]
    s = f"Record `{batch.ids[0]}`; labels: {', '.join(labels) or 'none'}."
    if text:
        s += f" Report: \u201c{text[:300]}\u201d"
    return s


def _section_ecg(ctx: _Ctx, example) -> Section:
    from ecgfoundry.eval.stress import rand_masks
    from ecgfoundry.report.paper import plot_ecg_paper

    s = Section("An ECG with missing leads and spans")
    if example is None:
        ctx.note(s, ctx.store_error or "no record to draw")
        return s
    pos, test, batch = example
    signal, observed = batch.signal[0], batch.observed[0]
    # The exact joint Rand. mask the stress test applied to this record (same seed, same draw order).
    masks = rand_masks(ctx.seed, "joint", len(test), signal.shape[-1])
    removed = masks[pos] & observed
    fig = plot_ecg_paper(signal, batch.fs, removed=removed, observed=observed, layout=ctx.opts.layout,
                         title=f"{batch.ids[0]}  (joint missingness, Rand., seed {ctx.seed})")
    s.add(Text("A test record drawn on ECG paper (25 mm/s, 10 mm/mV). Shaded: the leads and time spans the "
               "joint missingness mask removes in the stress test (the same mask the evaluation used for this "
               "record: seed, kind and mode as in `ecgfoundry evaluate`); the hidden trace is dashed."),
          Figure("ecg_paper", ctx.png(fig), _record_caption(batch), alt="12-lead ECG on ECG paper with masked spans"))
    return s


def _section_importance(ctx: _Ctx, example) -> Section:
    from ecgfoundry.report.figures import plot_token_importance
    from ecgfoundry.report.importance import token_importance

    s = Section("Where the model looks: token importance before and after adversarial removal")
    if example is None:
        ctx.note(s, ctx.store_error or "no record to draw")
        return s
    run = _scar_run(ctx)
    if run is None:
        ctx.note(s, "no SCAR run with an adversarial masker and a selector (and a checkpoint) under the run "
                 "folder: pretrain one with `ecgfoundry pretrain --preset scar`.")
        return s
    _, _, batch = example
    model = _model(ctx, run)
    try:
        ti = token_importance(model, batch.signal[0], batch.observed[0])
    except ValueError as exc:
        ctx.note(s, f"{run.name}: {exc}")
        return s
    fig = plot_token_importance(ti, batch.signal[0], batch.fs, title=f"{run.name}: selector weights, {batch.ids[0]}")
    n_obs = int(ti.token_observed.sum())
    s.add(Text(f"The selector of `{run.name}` pools the encoder's lead x time tokens with softmax weights alpha "
               f"(one cell per {ti.patch_seconds:g} s patch of one lead). Top: the full view. Bottom: the masker's "
               f"inference gate picks the {int(ti.removed.sum())} of {n_obs} observed tokens (rho = {ti.rho:g}) it "
               "would remove; they are removed, the encoder runs again and the selector re-weights what is left "
               "(SCAR, Figure 4). The cosine between the two embeddings shows how much of the full-view "
               "semantics survives the removal."),
          Figure("token_importance", ctx.png(fig), _record_caption(batch), alt="selector token importance maps"))
    return s


# ----------------------------------------------------------------------------- evaluation results

def missingness_rows(evals: Sequence[EvalRun]) -> list[dict[str, Any]]:
    """One row per (model, condition) from the evaluations' metrics.json."""
    rows = []
    for ev in evals:
        zs = ev.metrics.get("zero_shot") or {}
        name = _label(ev)
        clean = zs.get("clean")
        if clean:
            rows.append({"model": name, "condition": "clean", "auroc": clean.get("auroc"),
                         "auroc_ci": clean.get("auroc_ci"), "auprc": clean.get("auprc"), "f1": clean.get("f1"),
                         "severity": 0.0, "cmrs": None, "reference_auroc": clean.get("reference_auroc")})
        for kind, by_mode in (zs.get("missingness") or {}).items():
            for mode, d in by_mode.items():
                rows.append({"model": name, "condition": f"{kind} {mode}", "auroc": d.get("auroc"),
                             "auroc_ci": d.get("auroc_ci"), "auprc": d.get("auprc"), "f1": d.get("f1"),
                             "severity": d.get("severity"), "cmrs": d.get("cmrs"), "cmrs_ci": d.get("cmrs_ci"),
                             "cmrs_clean": d.get("cmrs_clean"), "cmrs_robust": d.get("cmrs_robust"),
                             "cmrs_robust_ci": d.get("cmrs_robust_ci"), "reference_auroc": d.get("reference_auroc"),
                             "impact": d.get("impact"),
                             "resolution": d.get("resolution")})
    return rows


def _section_missingness(ctx: _Ctx) -> Section:
    from ecgfoundry.report.figures import condition_order, plot_missingness

    s = Section("AUROC and CMRS per missingness type")
    evals = ctx.run.evals
    if not evals:
        ctx.note(s, "no evaluation output (`metrics.json`) under the run folder: run `ecgfoundry evaluate "
                 "--model RUN/pretrain/NAME --out RUN/eval/NAME ...`.")
        return s
    rows = missingness_rows(evals)
    if not rows:
        ctx.note(s, "the evaluations hold no zero-shot results")
        return s
    roles = {ev.role for ev in evals}
    if "SCAR" not in roles or "baseline" not in roles:
        ctx.note(s, "only " + ("SCAR" if "SCAR" in roles else "baseline") + " models were evaluated: "
                 "evaluate both a SCAR run and a baseline (CLIP / MERL) to compare them.")
    m0 = evals[0].metrics
    s.add(Text(f"Zero-shot macro AUROC on the test split ({m0.get('n_test', '?')} records of "
               f"{m0.get('dataset', '?')} / {m0.get('label_set', '?')}), clean and under lead-only, temporal-only "
               "and joint missingness with random (Rand.) or reference-chosen (Hard) masks, and CMRS "
               "= 100 x sum S*I*R / sum S*I (severity S, impact I on the reference classifier, resolution R of "
               "the model's calibrated scores). Error bars: 95% bootstrap CIs. CMRS mostly measures how close "
               "the model's clean predictions are to F's: the table gives beside it CMRS clean (the same score "
               "from the model's clean view) and the robust part, CMRS - CMRS clean (0 for a model that ignores "
               "the mask), and F's own AUROC under the same masks, which shows how much harder Hard is than "
               "Rand. (docs/stress_test.md)."),
          Figure("missingness", ctx.png(plot_missingness(rows)), "Zero-shot macro AUROC (left) and CMRS (right) per "
                 "missingness type and mask mode; SCAR against the baseline(s).", alt="AUROC and CMRS bar charts"))
    order = {c: i for i, c in enumerate(condition_order([r["condition"] for r in rows]))}
    model_order = {m: i for i, m in enumerate(dict.fromkeys(r["model"] for r in rows))}  # SCAR first
    table = sorted(rows, key=lambda r: (order[r["condition"]], model_order[r["model"]]))
    def cmrs_cells(r):
        if r["condition"] == "clean":
            return ["-"] * 3
        return [_ci(r.get("cmrs"), r.get("cmrs_ci"), 1), _fmt(r.get("cmrs_clean"), 1),
                _ci(r.get("cmrs_robust"), r.get("cmrs_robust_ci"), 1)]

    s.add(Table(["condition", "model", "AUROC [95% CI]", "AUPRC", "F1", "severity", "F's AUROC", "CMRS [95% CI]",
                 "CMRS clean", "robust part [95% CI]"],
                [[r["condition"], r["model"], _ci(r["auroc"], r.get("auroc_ci")), _fmt(r.get("auprc")),
                  _fmt(r.get("f1")), _fmt(r.get("severity")), _fmt(r.get("reference_auroc"))] + cmrs_cells(r)
                 for r in table]))
    skipped = m0.get("zero_shot", {}).get("clean", {}).get("skipped")
    if skipped:
        s.add(Text("Classes skipped in the macro averages (no positives or no negatives in the test split): "
                   + ", ".join(f"{k} ({v})" for k, v in skipped.items()) + "."))
    if not any(r.get("cmrs") is not None for r in rows):
        ctx.note(s, "no CMRS: the evaluations ran without a reference classifier (`--reference`).")
    return s


def _section_probe_adv(ctx: _Ctx) -> Section | None:
    from ecgfoundry.report.figures import plot_adversarial

    probes = [(ev, ev.metrics["linear_probe"]) for ev in ctx.run.evals if ev.metrics.get("linear_probe")]
    adv = [dict(r, model=_label(ev)) for ev in ctx.run.evals for r in (ev.metrics.get("adversarial") or [])]
    masker = [dict(r, model=_label(ev)) for ev in ctx.run.evals for r in (ev.metrics.get("masker_attack") or [])]
    if not probes and not adv and not masker:
        return None
    s = Section("Linear probe and adversarial robustness")
    if probes:
        rows = [[_label(ev), f"{r['fraction']:g}", _fmt(r.get("n_train")), _fmt(r.get("best_epoch")),
                 _fmt(r.get("val_auroc")), _ci(r.get("test_auroc"), (r.get("test_auroc_low"), r.get("test_auroc_high"))),
                 _fmt(r.get("test_auprc")), _fmt(r.get("test_f1"))] for ev, rs in probes for r in rs]
        s.add(Table(["model", "fraction", "n train", "best epoch", "val AUROC", "test AUROC [95% CI]", "AUPRC", "F1"],
                    rows, caption="Linear probe on the frozen encoder's pooled features at 1/10/100 % of the training "
                    "split (early stopping on validation macro AUROC)."))
    if adv:
        s.add(Figure("adversarial", ctx.png(plot_adversarial(adv)), "Macro AUROC under FGSM / PGD against the "
                     "budget eps (solid: FGSM, dashed: PGD; pale: the linear-probe head).", alt="adversarial curves"))
        if any(r.get("accuracy") is not None for r in adv):
            s.add(Table(["model", "head", "attack", "eps", "macro AUROC", "top-1 accuracy"],
                        [[r["model"], r["head"], r["attack"], f"{r['eps']:g} {r.get('eps_unit', '')}",
                          _fmt(r.get("auroc")), _fmt(r.get("accuracy"))] for r in adv]))
    if masker:
        s.add(Table(["model", "removal", "budget rho", "severity", "macro AUROC", "top-1 accuracy"],
                    [[r["model"], r["attack"], _fmt(r.get("budget"), 2), _fmt(r.get("severity")), _fmt(r.get("auroc")),
                      _fmt(r.get("accuracy"))] for r in masker],
                    caption="SCAR's adversarial masker as a test-time attack: the top-rho tokens by its gate are "
                    "removed from every test record, next to as many tokens removed at random."))
    return s


# ----------------------------------------------------------------------------- UMAP and benchmark

def _first_label(y_row: np.ndarray, classes: Sequence[str]) -> str:
    pos = np.flatnonzero(y_row > 0)
    return classes[pos[0]] if len(pos) == 1 else ("none" if len(pos) == 0 else "several")


def _section_umap(ctx: _Ctx) -> Section:
    from ecgfoundry.report.figures import plot_umap

    s = Section("Embedding map (UMAP)")
    bench = ctx.run.bench
    if bench is not None:
        pngs = [p for p in bench.png if "umap" in p.name.lower()]
        if pngs:
            for p in pngs:
                s.add(Figure(f"bench_{p.stem}", p.read_bytes(), f"UMAP from the benchmark output (`{p.name}`).",
                             alt="UMAP of the embeddings"))
            return s
        for p in (p for p in bench.csv if "umap" in p.name.lower()):
            import pandas as pd

            df = pd.read_csv(p)
            if {"x", "y"} <= set(df.columns):
                groups = df.groupby("model") if "model" in df.columns else [(p.stem, df)]
                panels = {str(k): (g[["x", "y"]].to_numpy(), g["label"].astype(str).tolist() if "label" in g
                                   else ["all"] * len(g)) for k, g in groups}
                s.add(Figure("umap", ctx.png(plot_umap(panels)), f"UMAP coordinates from the benchmark output "
                             f"(`{p.name}`), coloured by label.", alt="UMAP of the embeddings"))
                return s
    if not ctx.opts.umap:
        ctx.note(s, "no UMAP in the benchmark output and computing one was switched off (`--no-umap`).")
        return s
    runs = [r for r in ctx.run.pretrain if r.checkpoint is not None]
    if ctx.store is None or not runs:
        ctx.note(s, "no UMAP: the benchmark output has none and there is " +
                 ("no dataset" if ctx.store is None else "no checkpoint") + " to compute one from.")
        return s
    try:
        from ecgfoundry.bench.geometry import umap_coords
        import umap  # noqa: F401  (fail here, with a note, when umap-learn is missing)
    except ImportError:
        ctx.note(s, "no UMAP: umap-learn is not installed (`pip install -e .[bench]`).")
        return s
    import torch

    from ecgfoundry.progress import track

    store = ctx.store
    test = store.split_indices("test")
    if len(test) == 0:
        test = np.arange(len(store))
    rng = np.random.default_rng(ctx.seed)
    idx = np.sort(rng.choice(test, size=min(len(test), ctx.opts.umap_points), replace=False))
    batch = store.batch(idx, ctx.label_set)
    labels = [_first_label(row, batch.classes) for row in batch.labels]
    panels = {}
    for run in track(runs, "UMAP of the embeddings", enabled=ctx.opts.progress):
        model = _model(ctx, run)
        with torch.no_grad():
            z = np.concatenate([model.encode_ecg(torch.as_tensor(batch.signal[a:a + 128]),
                                                 torch.as_tensor(batch.observed[a:a + 128])).numpy()
                                for a in range(0, len(idx), 128)])
        panels[f"{run.name} ({run.preset})" if run.preset not in run.name else run.name] = (
            umap_coords(z, seed=ctx.seed), labels)
    s.add(Text(f"No UMAP in the benchmark output, so it is computed here: the L2-normalised ECG embeddings of "
               f"{len(idx)} test records per model, standardised, 2-D UMAP (seed {ctx.seed}), coloured by label "
               "(\u201cseveral\u201d: more than one label)."),
          Figure("umap", ctx.png(plot_umap(panels)), "UMAP of the ECG embeddings of the test records.",
                 alt="UMAP of the embeddings"))
    return s


def _strip_pipes(line: str) -> str:
    line = line.strip()
    line = line[1:] if line.startswith("|") else line
    return line[:-1] if line.endswith("|") and not line.endswith("\\|") else line


def _md_blocks(text: str) -> list:
    """Markdown tables and paragraphs of a benchmark .md file as document blocks."""
    blocks, table, para = [], [], []

    def flush_table():
        if len(table) >= 2:
            cells = [[c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", _strip_pipes(line))]
                     for line in table]
            body = [r for r in cells[1:] if not all(set(c) <= set("-: ") for c in r)]
            blocks.append(Table(cells[0], body))
        table.clear()

    def flush_para():
        if para:
            blocks.append(Text(" ".join(para)))
        para.clear()

    for line in text.splitlines():
        if line.strip().startswith("|"):
            flush_para()
            table.append(line)
            continue
        flush_table()
        stripped = line.strip()
        if not stripped:
            flush_para()
        elif stripped.startswith("#"):
            flush_para()
            blocks.append(Text(f"**{stripped.lstrip('#').strip()}**"))
        else:
            para.append(stripped)
    flush_table()
    flush_para()
    return blocks


def _section_bench(ctx: _Ctx) -> Section:
    s = Section("Benchmark of the frozen embeddings")
    bench = ctx.run.bench
    if bench is None:
        ctx.note(s, "no benchmark output under the run folder (expected `RUN/bench/` from "
                 "`ecgfoundry bench --out RUN/bench`).")
        return s
    s.add(Text(f"From `{bench.path}`."))
    if bench.summary:
        flat = []
        for k, v in bench.summary.items():
            if v is None or (isinstance(v, (dict, list, str)) and not v):
                continue  # empty entries say nothing
            text = json.dumps(v, default=str) if isinstance(v, (dict, list)) else str(v)
            if len(text) > 200:
                text = f"({len(v)} entries, see summary.json)" if isinstance(v, (dict, list)) else text[:197] + "..."
            flat.append([k, text])
        s.add(Table(["key", "value"], flat, caption="`summary.json` (long entries are left to the file)."))
    if bench.markdown:
        for p in bench.markdown:
            text = p.read_text()
            if not text.lstrip().startswith("#"):  # a file without its own title is named
                s.add(Text(f"**{p.name}**"))
            s.add(*_md_blocks(text))
        if bench.csv:
            s.add(Text("Full tables: " + ", ".join(f"`{p.relative_to(bench.path)}`" for p in bench.csv) + "."))
    elif bench.csv:
        import pandas as pd

        for p in bench.csv:
            try:
                df = pd.read_csv(p)
            except Exception as exc:  # a broken CSV is reported, not fatal
                ctx.note(s, f"`{p}` could not be read ({exc})")
                continue
            s.add(Table.from_frame(df, caption=f"`{p.relative_to(bench.path)}`", max_rows=30))
    if not (bench.summary or bench.markdown or bench.csv):
        ctx.note(s, f"`{bench.path}` holds no tables (summary.json, *.md, *.csv)")
    for p in bench.png:
        if "umap" in p.name.lower():
            continue
        s.add(Figure(f"bench_{p.stem}", p.read_bytes(), f"`{p.relative_to(bench.path)}` (benchmark figure)",
                     alt=p.stem))
    return s


def _section_training(ctx: _Ctx) -> Section | None:
    import pandas as pd

    from ecgfoundry.report.figures import plot_training

    curves = {}
    for r in ctx.run.pretrain:
        if r.metrics_csv is None:
            continue
        try:
            df = pd.read_csv(r.metrics_csv)
        except Exception:
            continue
        if len(df) and "step" in df:
            curves[r.name] = {c: df[c].dropna().tolist() for c in df.columns}
    if not curves:
        return None
    s = Section("Pretraining curves")
    try:
        fig = plot_training(curves)
    except ValueError:
        return None
    s.add(Figure("training", ctx.png(fig), "Training losses logged in each run's `metrics.csv`.",
                 alt="training curves"))
    return s


# ----------------------------------------------------------------------------- assembly

def build_document(run: RunFolder, opts: ReportOptions = ReportOptions()) -> tuple[Document, list[str]]:
    """The report of a scanned run folder, and the notes on what is missing."""
    ctx = _Ctx(run, opts, notes=list(run.notes))
    eval_seed = next((ev.metrics.get("seed") for ev in run.evals if ev.metrics.get("seed") is not None), None)
    # the evaluation's seed first, so the masks shown are the ones it used
    for seed in (opts.seed, eval_seed, run.provenance.get("seed"), 0):
        if seed is not None:
            ctx.seed = int(seed)
            break
    ctx.label_set = opts.label_set or run.provenance.get("label_set") or next(
        (ev.metrics.get("label_set") for ev in run.evals if ev.metrics.get("label_set")), None)
    ctx.store = _open_store(ctx)
    example = _example_record(ctx) if ctx.store is not None else None
    title = opts.title or run.provenance.get("title") or f"ecgfoundry report: {run.root.name}"
    doc = Document(title)
    doc.sections.append(_section_run(ctx))
    doc.sections.append(_section_ecg(ctx, example))
    doc.sections.append(_section_importance(ctx, example))
    doc.sections.append(_section_missingness(ctx))
    extra = _section_probe_adv(ctx)
    if extra is not None:
        doc.sections.append(extra)
    doc.sections.append(_section_umap(ctx))
    doc.sections.append(_section_bench(ctx))
    training = _section_training(ctx)
    if training is not None:
        doc.sections.append(training)
    if ctx.notes:
        doc.sections.append(Section("Notes").add(Text("What this report could not show, and why:"),
                                                 Code("\n".join(f"- {n}" for n in ctx.notes))))
    return doc, ctx.notes


def write_report(run: str | Path, out: str | Path | None = None, options: ReportOptions = ReportOptions()
                 ) -> ReportResult:
    """Write ``report.html`` and ``report.md`` (+ one PNG per figure) for the run folder ``run``.

    Parameters
    ----------
    run : folder
        A run folder (layout in :mod:`ecgfoundry.report.collect`).
    out : folder, optional
        Where the report goes (default: ``run`` itself).
    options : ReportOptions

    Returns
    -------
    ReportResult
        Paths written, the notes on what is missing, and the seconds it took.

    Raises
    ------
    FileNotFoundError
        When ``run`` is not a folder, or holds no pretraining run, evaluation or benchmark output.
    """
    from ecgfoundry.report.html import render_html
    from ecgfoundry.report.markdown import figure_file, render_markdown

    start = time.perf_counter()
    folder = scan_run(run)
    if folder.empty:
        raise FileNotFoundError(f"{folder.root}: no pretraining run, evaluation (metrics.json) or benchmark output "
                                "found (see `ecgfoundry report --help` for the layout)")
    doc, notes = build_document(folder, options)
    out = Path(out) if out is not None else folder.root
    out.mkdir(parents=True, exist_ok=True)
    figures = []
    for fig in doc.figures():
        p = out / figure_file(fig)
        p.write_bytes(fig.png)
        figures.append(p)
    md = out / "report.md"
    md.write_text(render_markdown(doc), encoding="utf-8")
    tmp = out / "report.html.partial"
    tmp.write_text(render_html(doc), encoding="utf-8")
    html_path = out / "report.html"
    shutil.move(str(tmp), html_path)
    return ReportResult(html_path, md, figures, notes, time.perf_counter() - start)
