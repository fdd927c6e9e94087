"""The files of an evaluation: ``zero_shot.csv`` / ``linear_probe.csv`` / ``linear_probe_missingness.csv``
/ ``adversarial.csv`` / ``masker_attack.csv`` (:func:`write_tables`), ``missingness.png`` and ``adversarial.png``
(:func:`write_figures`) and the Markdown report (:func:`markdown_report`), all from the content of
``metrics.json``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["zero_shot_rows", "per_class_rows", "stress_block", "write_tables", "write_figures", "markdown_report"]

CMRS_PARTS = ("cmrs_clean", "cmrs_robust", "cmrs_self")
"""The companions of CMRS in a missingness cell (:mod:`ecgfoundry.eval.cmrs`)."""

CMRS_READING = (
    "How to read these: **CMRS** (the documented score) compares G's prediction on the masked record with "
    "the reference F's on the full record, so it mixes G's clean agreement with F and its robustness. "
    "**CMRS clean** is the same score for G's clean-view prediction, with the same weights: what G would "
    "score if the masks changed nothing. **CMRS robust** = CMRS \u2212 CMRS clean is the part the masks are "
    "responsible for: 0 for a model that ignores the mask, negative when the masks pull G away from F's "
    "full view. **CMRS self** measures G's masked prediction against G's own clean one (100 = the masks "
    "never change G; a constant model also scores 100, so read it beside the clean AUROC). **F AUROC** is "
    "the reference's own macro AUROC under the same masks; Rand. and Hard remove exactly the same budget "
    "(equal severity), and Hard places it where it moves F most, so F AUROC is usually lower under Hard "
    "(not always: Hard maximises how much F changes, not F's error). "
    "Intervals are record-level 95 % bootstrap intervals from the same resamples (paired for CMRS robust).")


def _fmt(value, ci=None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    s = f"{value:.{digits}f}"
    if ci and ci[0] is not None and ci[1] is not None and all(math.isfinite(c) for c in ci):
        s += f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"
    return s


def stress_block(metrics: dict[str, Any]) -> dict[str, Any]:
    """The clean + missingness results of the head that was stressed: ``zero_shot`` for ECG-text
    models, ``linear_probe_stress`` (the 100 % probe) for ECG-only ones."""
    return metrics.get("zero_shot") or metrics.get("linear_probe_stress") or {"clean": {}, "missingness": {}}


def _conditions(metrics: dict[str, Any]):
    zs = stress_block(metrics)
    return [("clean", "", zs["clean"])] + [(k, m, d) for k, by in zs["missingness"].items() for m, d in by.items()]


def per_class_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per condition x class: AUROC, AUPRC, F1, ... of each class, with its CMRS where the
    condition has one (``per_class.csv``)."""
    rows = []
    for kind, mode, d in _conditions(metrics):
        cmrs = d.get("cmrs_per_class") or {}
        for r in d.get("per_class") or []:
            row = {"head": metrics.get("head", "zero_shot"), "condition": kind if kind == "clean" else f"{kind} {mode}",
                   **r}
            name = r.get("class")
            if cmrs:
                row["cmrs"] = cmrs.get(name)
            rows.append(row)
    return rows


def zero_shot_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per condition (clean, then kind x mode) of the zero-shot results (of the probe head's
    for an ECG-only model)."""
    zs = stress_block(metrics)
    rows = []
    for kind, mode, d in [("clean", "", zs["clean"])] + [(k, m, d) for k, by in zs["missingness"].items()
                                                        for m, d in by.items()]:
        ci = d.get("auroc_ci") or (None, None)
        row = {"condition": kind if kind == "clean" else f"{kind} {mode}", "kind": kind, "mode": mode,
               "auroc": d.get("auroc"), "auroc_low": ci[0], "auroc_high": ci[1], "auprc": d.get("auprc"),
               "f1": d.get("f1"), "severity": d.get("severity", 0.0)}
        # absent in older metrics.json files: CIs, F's AUROC, the clean / self / robust parts of CMRS
        for key in ("cmrs", *CMRS_PARTS, "reference_auroc"):
            lo, hi = d.get(f"{key}_ci") or (None, None)
            row.update({key: d.get(key), f"{key}_low": lo, f"{key}_high": hi})
        row.update(impact=d.get("impact"), resolution=d.get("resolution"))
        rows.append(row)
    return rows


def write_tables(metrics: dict[str, Any], out: str | Path) -> list[Path]:
    """The tables of ``metrics.json`` as CSV files in ``out``; returns the paths written."""
    import csv

    out = Path(out)
    stressed = "zero_shot.csv" if metrics.get("head", "zero_shot") == "zero_shot" else "linear_probe_stress.csv"
    tables = {stressed: zero_shot_rows(metrics), "per_class.csv": per_class_rows(metrics),
              "linear_probe.csv": metrics.get("linear_probe") or [],
              "linear_probe_missingness.csv": metrics.get("linear_probe_missingness") or [],
              "adversarial.csv": metrics.get("adversarial") or [], "masker_attack.csv": metrics.get("masker_attack") or []}
    written = []
    for name, rows in tables.items():
        if not rows:
            continue
        keys = list(dict.fromkeys(k for r in rows for k in r))
        with open(out / name, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(rows)
        written.append(out / name)
    return written


def write_figures(metrics: dict[str, Any], out: str | Path) -> list[Path]:
    """``missingness.png`` (AUROC and CMRS with CIs per condition) and ``adversarial.png`` (AUROC and
    accuracy against epsilon per head and attack), when the metrics have them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    written = []
    rows = zero_shot_rows(metrics)
    if len(rows) > 1:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
        names = [r["condition"] for r in rows]
        x = np.arange(len(rows))

        def col(key):
            return np.array([np.nan if r.get(key) is None else r[key] for r in rows], dtype=float)

        au, lo, hi = col("auroc"), col("auroc_low"), col("auroc_high")
        err = np.vstack([np.nan_to_num(au - lo), np.nan_to_num(hi - au)])
        axes[0].bar(x, au, yerr=err, color="#4c72b0", capsize=3)
        axes[0].set_ylim(0.4, 1.0)
        axes[0].axhline(0.5, color="grey", lw=0.8, ls="--")
        axes[0].set_ylabel("zero-shot macro AUROC")
        cm, clo, chi = col("cmrs"), col("cmrs_low"), col("cmrs_high")
        cerr = np.vstack([np.nan_to_num(cm - clo), np.nan_to_num(chi - cm)])
        axes[1].bar(x, cm, yerr=cerr, color="#dd8452", capsize=3, label="CMRS")
        clean_part = col("cmrs_clean")
        if np.isfinite(clean_part).any():  # G's clean-view score: the gap to the bar is the robust part
            axes[1].scatter(x, clean_part, marker="_", s=300, color="black", zorder=3, label="CMRS clean")
            axes[1].legend(fontsize=7)
        axes[1].set_ylim(0, 100)
        axes[1].set_ylabel("CMRS")
        for ax in axes:
            ax.set_xticks(x, names, rotation=30, ha="right", fontsize=8)
        fig.suptitle(f"{metrics.get('dataset')} / {metrics.get('label_set')}: zero-shot under missingness", fontsize=10)
        fig.tight_layout()
        fig.savefig(out / "missingness.png", dpi=120)
        plt.close(fig)
        written.append(out / "missingness.png")
    adv = metrics.get("adversarial") or []
    if adv:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
        clean = {r["head"]: r for r in adv if r["attack"] == "none"}
        for (head, attack) in dict.fromkeys((r["head"], r["attack"]) for r in adv if r["attack"] != "none"):
            pts = [clean[head]] + [r for r in adv if r["head"] == head and r["attack"] == attack]
            pts.sort(key=lambda r: r["eps"])
            for ax, key in zip(axes, ("auroc", "accuracy")):
                ax.plot([r["eps"] for r in pts], [np.nan if r.get(key) is None else r[key] for r in pts],
                        marker="o", label=f"{head} {attack}")
        unit = adv[0].get("eps_unit", "")
        for ax, key in zip(axes, ("macro AUROC", "top-1 accuracy")):
            ax.set_xlabel(f"epsilon ({adv[0].get('norm', '')}, {unit})")
            ax.set_ylabel(key)
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "adversarial.png", dpi=120)
        plt.close(fig)
        written.append(out / "adversarial.png")
    return written


def _per_class_cmrs_lines(missing: dict[str, dict]) -> list[str]:
    """Per-class CMRS (classes x conditions) as Markdown lines; none when no cell has it."""
    cells = [(f"{kind} {mode}", d["cmrs_per_class"]) for kind, by_mode in missing.items()
             for mode, d in by_mode.items() if d.get("cmrs_per_class")]
    if not cells:
        return []
    classes = list(dict.fromkeys(k for _, pc in cells for k in pc))
    lines = ["", "### Per-class CMRS", "",
             "CMRS restricted to one class (impact and resolution from that class's probability alone); "
             "n/a where no mask changed the reference's output for the class.", "",
             "| class | " + " | ".join(name for name, _ in cells) + " |", "|---" * (len(cells) + 1) + "|"]
    for k in classes:
        lines.append(f"| {k} | " + " | ".join(_fmt(pc.get(k), digits=1) for _, pc in cells) + " |")
    return lines


def _cmrs_parts_lines(zs: dict[str, Any]) -> list[str]:
    """Severity, F's AUROC and CMRS with its clean / robust / self parts per condition, as Markdown
    lines; none when no cell has the parts (no reference, or an older metrics.json)."""
    cells = [(f"{kind} {mode}", d) for kind, by_mode in zs["missingness"].items() for mode, d in by_mode.items()]
    if not any("cmrs_clean" in d for _, d in cells):
        return []
    c = zs["clean"]
    lines = ["", "### CMRS: clean agreement and robustness", "", CMRS_READING, "",
             "| condition | severity | F AUROC [95% CI] | CMRS | CMRS clean | CMRS robust (CMRS \u2212 clean) | "
             "CMRS self |", "|---|---|---|---|---|---|---|",
             f"| clean | 0 | {_fmt(c.get('reference_auroc'), c.get('reference_auroc_ci'))} | - | - | - | - |"]
    for name, d in cells:
        parts = [_fmt(d.get(k), d.get(f"{k}_ci"), digits=1) for k in ("cmrs", *CMRS_PARTS)]
        lines.append(f"| {name} | {d['severity']:.3f} | {_fmt(d.get('reference_auroc'), d.get('reference_auroc_ci'))} | "
                     + " | ".join(parts) + " |")
    return lines


def _probe_missingness_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The probe trained and tested under missingness (``linear_probe_missingness``) as Markdown lines."""
    if not rows:
        return []
    lines = ["", "### Linear probe trained and tested under missingness", "",
             "100 % of the training split under Rand. masks of the type, epoch chosen on masked validation "
             "records, tested under the stress test's masks; `clean probe` is the 100 % probe trained on clean "
             "records, tested on the same masked records.", "",
             "| type | test masks | severity | best epoch | val AUROC | test AUROC [95% CI] | AUPRC | F1 | clean probe |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ci = (r.get("test_auroc_low"), r.get("test_auroc_high"))
        lines.append(f"| {r['kind']} | {r['mode']} | {_fmt(r.get('severity'))} | {r['best_epoch']} | "
                     f"{_fmt(r['val_auroc'])} | {_fmt(r['test_auroc'], ci)} | {_fmt(r.get('test_auprc'))} | "
                     f"{_fmt(r.get('test_f1'))} | {_fmt(r.get('clean_probe_test_auroc'))} |")
    return lines


def markdown_report(metrics: dict[str, Any]) -> str:
    """The Markdown tables of ``metrics.json``: zero-shot clean and under missingness (with CMRS, its
    CI, its clean / robust / self parts beside F's AUROC, and per class when the metrics have them),
    the linear probe and the adversarial curve."""
    lines = [f"# Evaluation: {metrics.get('model', 'model')} on {metrics['dataset']} / {metrics['label_set']}", "",
             f"Test records: {metrics['n_test']}; seed {metrics['seed']}; bootstrap resamples {metrics['n_boot']}; "
             f"F1 thresholds chosen on validation ({metrics['n_val']} records).", "",
             "## Zero-shot under missingness" if metrics.get("head", "zero_shot") == "zero_shot" else
             "## Linear probe (100 %, the head of this ECG-only model) under missingness", "",
             "| condition | AUROC [95% CI] | AUPRC | F1 | severity | CMRS [95% CI] |", "|---|---|---|---|---|---|"]
    zs = stress_block(metrics)
    c = zs["clean"]
    lines.append(f"| clean | {_fmt(c['auroc'], c.get('auroc_ci'))} | {_fmt(c['auprc'])} | {_fmt(c['f1'])} | 0 | - |")
    for kind, by_mode in zs["missingness"].items():
        for mode, d in by_mode.items():
            if "cmrs" not in d:
                cm = "-"  # no reference
            else:
                cm = _fmt(d["cmrs"], d.get("cmrs_ci"), digits=1)
            lines.append(f"| {kind} {mode} | {_fmt(d['auroc'], d.get('auroc_ci'))} | {_fmt(d['auprc'])} | "
                         f"{_fmt(d['f1'])} | {d['severity']:.3f} | {cm} |")
    if c.get("skipped"):
        lines += ["", "Classes skipped (test): " + ", ".join(f"{k} ({v})" for k, v in c["skipped"].items())]
    lines += _cmrs_parts_lines(zs)
    lines += _per_class_cmrs_lines(zs["missingness"])
    if metrics.get("linear_probe"):
        lines += ["", "## Linear probe (frozen encoder)", "",
                  "| fraction | n train | best epoch | val AUROC | test AUROC [95% CI] | AUPRC | F1 |",
                  "|---|---|---|---|---|---|---|"]
        for r in metrics["linear_probe"]:
            ci = (r.get("test_auroc_low"), r.get("test_auroc_high"))
            lines.append(f"| {r['fraction']:g} | {r['n_train']} | {r['best_epoch']} | {_fmt(r['val_auroc'])} | "
                         f"{_fmt(r['test_auroc'], ci)} | {_fmt(r['test_auprc'])} | {_fmt(r['test_f1'])} |")
    lines += _probe_missingness_lines(metrics.get("linear_probe_missingness") or [])
    if metrics.get("adversarial"):
        lines += ["", "## Adversarial robustness", "", f"On {metrics.get('adversarial_records', metrics['n_test'])} test records.", "", "| head | attack | eps | norm | macro AUROC | top-1 accuracy |",
                  "|---|---|---|---|---|---|"]
        for r in metrics["adversarial"]:
            worst = r["attack"] == "worst"  # per eps, the lowest value over the attacks, which one in brackets
            au = _fmt(r["auroc"]) + (f" ({r['auroc_attack']})" if worst and r.get("auroc_attack") else "")
            acc = _fmt(r.get("accuracy")) + (f" ({r['accuracy_attack']})" if worst and r.get("accuracy_attack") else "")
            lines.append(f"| {r['head']} | {'**worst**' if worst else r['attack']} | {r['eps']:g} {r['eps_unit']} | "
                         f"{r['norm']} | {au} | {acc} |")
        if any(r["attack"] == "worst" for r in metrics["adversarial"]):
            lines += ["", "**worst**: per budget, the lowest macro AUROC over the attacks (the attack in brackets), "
                          "and the accuracy when a record counts as correct only if it is under every attack. PGD "
                          "keeps each record's highest-loss point, the FGSM point included, but a higher loss on "
                          "every record does not always give a lower AUROC."]
    if metrics.get("masker_attack"):
        lines += ["", "## Adversarial masker as a test-time attack (zero-shot)", "",
                  "| removal | budget rho | severity | macro AUROC | top-1 accuracy |", "|---|---|---|---|---|"]
        for r in metrics["masker_attack"]:
            lines.append(f"| {r['attack']} | {r['budget']:g} | {r['severity']:.3f} | {_fmt(r['auroc'])} | "
                         f"{_fmt(r.get('accuracy'))} |")
    return "\n".join(lines) + "\n"
