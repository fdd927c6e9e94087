"""The whole evaluation of an ECG-text model on one dataset and label set (``ecgfoundry evaluate``).

1. **Zero-shot** scores ``cos(z, u_k)`` on the test split (prompts from the prompt file), clean and
   under every requested missingness kind x mode, with CMRS against a reference classifier F
   (:mod:`ecgfoundry.eval.stress`), its record-level bootstrap CI and its per-class breakdown
   (:mod:`ecgfoundry.eval.cmrs`).
2. Optionally a **linear probe** on the frozen encoder's pooled features at 1 / 10 / 100 % of the
   training split (:mod:`ecgfoundry.eval.linear_probe`).
3. Optionally **adversarial** macro AUROC and top-1 accuracy under FGSM / PGD for the zero-shot head
   (and the 100 % probe), and SCAR's adversarial masker used as a test-time attack at its budget rho
   (:mod:`ecgfoundry.eval.masker_attack`), next to the same number of tokens removed at random.

Everything is written to ``metrics.json`` and ``report.md`` in the output folder, the tables also as
CSV (``zero_shot.csv``, ``linear_probe.csv``, ``adversarial.csv``, ``masker_attack.csv``) and the
figures as PNG (``missingness.png``: AUROC and CMRS per missingness type; ``adversarial.png``: AUROC
and accuracy against epsilon).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ecgfoundry.eval.metrics import Evaluation, macro_auroc, top1_accuracy
from ecgfoundry.eval.missingness import KINDS
from ecgfoundry.eval.stress import MODES, StressReport


@dataclass(frozen=True)
class EvaluateOptions:
    """What ``ecgfoundry evaluate`` computes (CLI flags map onto these fields)."""

    label_set: str | None = None
    kinds: tuple[str, ...] = KINDS
    modes: tuple[str, ...] = MODES
    seed: int = 0
    n_boot: int = 1000
    n_candidates: int = 8                     # candidates per record for hard masks
    prompts: str | None = None                # prompt file (default: the packaged one)
    linear_probe: bool = False
    probe_fractions: tuple[float, ...] = (0.01, 0.1, 1.0)
    attacks: tuple[str, ...] = ()             # "fgsm", "pgd"
    eps: tuple[float, ...] = (0.01, 0.05)
    eps_unit: str = "mV"
    norm: str = "linf"
    pgd_steps: int = 10
    masker_attack: bool = False               # the adversarial masker as a test-time attack
    attack_budget: float | None = None        # its rho (default: the masker's own)
    attack_records: int | None = None         # FGSM / PGD on a seeded subset of this many test records
    batch_size: int = 128
    progress: bool = True

    def __post_init__(self) -> None:
        for k in self.kinds:
            if k not in KINDS:
                raise ValueError(f"unknown missingness type {k!r}; choose from {', '.join(KINDS)}")
        for m in self.modes:
            if m not in MODES:
                raise ValueError(f"unknown mask mode {m!r}; choose from {', '.join(MODES)}")
        for a in self.attacks:
            if a not in ("fgsm", "pgd"):
                raise ValueError(f"unknown attack {a!r}; choose from fgsm, pgd")
        if self.n_boot < 0:
            raise ValueError(f"n_boot must be >= 0, got {self.n_boot}")


@dataclass
class EvaluationResult:
    """What :func:`run_evaluation` computed; ``metrics`` is the content of ``metrics.json``."""

    metrics: dict[str, Any]
    report: str
    stress: StressReport | None = None
    probes: list = field(default_factory=list)


# ----------------------------------------------------------------------------- small helpers

def _finite(x):
    """JSON-safe: NaN / inf -> None, numpy scalars -> Python."""
    if isinstance(x, dict):
        return {str(k): _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(float(x)) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.ndarray):
        return _finite(x.tolist())
    return x


def evaluation_dict(ev: Evaluation) -> dict[str, Any]:
    """Macro metrics, their CIs, skipped classes and the per-class table of an :class:`Evaluation`."""
    out: dict[str, Any] = {}
    for key, value in ev.macro.items():
        out[key] = value
        if key in ev.ci:
            out[f"{key}_ci"] = list(ev.ci[key])
    out["skipped"] = dict(ev.skipped)
    out["per_class"] = ev.table.to_dict(orient="records")
    return out


def find_prompts(prompts: dict, dataset: str, label_set: str, classes: Sequence[str]) -> dict[str, list[str]]:
    """Phrasings for a dataset's label set: ``dataset/label_set``, then ``binary/label_set``, then the
    short name (:func:`ecgfoundry.eval.prompts.prompts_for`)."""
    from ecgfoundry.eval.prompts import prompts_for

    for key in (f"{dataset}/{label_set}", f"binary/{label_set}"):
        if key in prompts:
            return prompts_for(prompts, key, classes)
    return prompts_for(prompts, label_set, classes)


def _fmt(value, ci=None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    s = f"{value:.{digits}f}"
    if ci and ci[0] is not None and ci[1] is not None and all(math.isfinite(c) for c in ci):
        s += f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"
    return s


class ProbeHead(nn.Module):
    """A fitted :class:`~ecgfoundry.eval.linear_probe.LinearProbe` on the model's pooled encoder
    features, as a differentiable ``forward(signal, observed) -> logits`` (for attacks)."""

    def __init__(self, model, probe):
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.as_tensor(probe.mean_, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(probe.scale_, dtype=torch.float32))
        self.linear = nn.Linear(probe.n_features_in_, probe.n_classes_)
        with torch.no_grad():
            self.linear.weight.copy_(torch.as_tensor(probe.coef_, dtype=torch.float32))
            self.linear.bias.copy_(torch.as_tensor(probe.intercept_, dtype=torch.float32))

    def forward(self, signal: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
        z = self.model.ecg_tokens(signal, observed).pooled.float()
        return self.linear((z - self.mean) / self.scale)


def encoder_features(model, signal, observed, batch_size: int = 128) -> np.ndarray:
    """Pooled encoder features ``(N, D)`` (before the projection head) for linear probes."""
    out = []
    model.eval()
    with torch.no_grad():
        for a in range(0, len(signal), batch_size):
            x = torch.as_tensor(np.asarray(signal[a:a + batch_size], dtype=np.float32))
            o = torch.as_tensor(np.asarray(observed[a:a + batch_size], dtype=bool))
            out.append(model.ecg_tokens(x, o).pooled.float().numpy())
    return np.concatenate(out)


def adversarial_curve(head: nn.Module, signal, observed, y, classes, attacks: Sequence[str], eps: Sequence[float],
                      norm: str = "linf", eps_unit: str = "mV", steps: int = 10, seed: int = 0,
                      batch_size: int = 128, progress: bool = True) -> list[dict[str, Any]]:
    """Macro AUROC and top-1 accuracy (:func:`~ecgfoundry.eval.metrics.top1_accuracy`) of ``head``
    (logits) on the test records under each attack and budget.

    The attack maximises multi-label BCE on the true labels (:mod:`ecgfoundry.eval.adversarial`).
    """
    from ecgfoundry.eval.adversarial import fgsm, pgd
    from ecgfoundry.eval.predict import probability_fn
    from ecgfoundry.progress import track

    score = probability_fn(head, "none", batch_size=batch_size)
    clean = score(signal, observed)
    rows = [{"attack": "none", "eps": 0.0, "auroc": macro_auroc(y, clean, classes).value,
             "accuracy": top1_accuracy(y, clean)}]
    grid = [(a, e) for a in attacks for e in eps]
    for attack, e in track(grid, "adversarial attacks", enabled=progress):
        if attack == "fgsm":
            adv = fgsm(head, signal, observed, y, e, norm=norm, eps_unit=eps_unit, batch_size=batch_size)
        else:
            adv = pgd(head, signal, observed, y, e, steps=steps, seed=seed, norm=norm, eps_unit=eps_unit,
                      batch_size=batch_size)
        s_adv = score(adv, observed)
        rows.append({"attack": attack, "eps": float(e), "auroc": macro_auroc(y, s_adv, classes).value,
                     "accuracy": top1_accuracy(y, s_adv)})
    for r in rows:
        r.update(norm=norm, eps_unit=eps_unit)
    return rows


# ----------------------------------------------------------------------------- the run

def masker_attack_rows(model, attacker, signal, observed, y, classes, score, budget: float | None = None,
                       seed: int = 0, batch_size: int = 128) -> list[dict[str, Any]]:
    """Zero-shot macro AUROC / top-1 accuracy of ``model`` when ``attacker``'s adversarial masker removes
    the top-rho tokens of every test record, and when as many tokens are removed at random.

    ``score(signal, observed) -> (N, K)`` gives the model's scores; ``attacker`` is the model itself
    (white box) or another SCAR model with the same token geometry (transfer).
    """
    from ecgfoundry.eval.masker_attack import masker_removal, random_token_removal
    from ecgfoundry.eval.missingness import apply_mask, severity

    rho = float(attacker.cfg.masker.budget if budget is None else budget)
    clean = score(signal, observed)
    rows = [{"attack": "none", "budget": 0.0, "severity": 0.0, "auroc": macro_auroc(y, clean, classes).value,
             "accuracy": top1_accuracy(y, clean)}]
    for name, remove in (("masker", masker_removal(attacker, signal, observed, rho, batch_size)),
                         ("random tokens", random_token_removal(attacker, signal, observed, rho, seed, batch_size))):
        s, o = apply_mask(signal, observed, remove)
        g = score(s, o)
        rows.append({"attack": name, "budget": rho, "severity": float(severity(remove).mean()),
                     "auroc": macro_auroc(y, g, classes).value, "accuracy": top1_accuracy(y, g)})
    return rows


def run_evaluation(model, store, opts: EvaluateOptions, reference=None, out: str | Path | None = None,
                   info: dict[str, Any] | None = None, attacker=None) -> EvaluationResult:
    """Evaluate ``model`` (an ECG-text model) on ``store`` and write ``metrics.json`` + ``report.md``.

    Parameters
    ----------
    model : ECGTextModel (anything with ``encode_ecg``, ``encode_text``, ``scale()``, ``ecg_tokens``)
    store : ArrayStore
    opts : EvaluateOptions
    reference : Reference, optional
        :func:`ecgfoundry.eval.reference.load_reference` / ``train_reference``; needed for hard masks
        and CMRS (without it only random masks are run and CMRS is left out).
    out : folder, optional
    info : dict, optional
        Provenance written into ``metrics.json`` (model path, command, ...).
    attacker : ECGTextModel with an adversarial masker, optional
        Whose masker attacks with ``opts.masker_attack`` (default: ``model``'s own).
    """
    from ecgfoundry.eval.linear_probe import probe_table, run_probe_sizes
    from ecgfoundry.eval.prompts import load_prompts
    from ecgfoundry.eval.reference import check_reference
    from ecgfoundry.eval.stress import stress_test
    from ecgfoundry.eval.zero_shot import ZeroShotHead, zero_shot_classifier, zero_shot_scores

    y_all, classes = store.labels(opts.label_set)
    label_set = opts.label_set or store.info.get("default_label_set")
    idx = {s: store.split_indices(s) for s in ("train", "val", "test")}
    for s, i in idx.items():
        if len(i) == 0:
            raise ValueError(f"{store.path}: the {s} split is empty")
    test, val = store.batch(idx["test"], label_set), store.batch(idx["val"], label_set)
    prevalence = y_all[idx["train"]].mean(axis=0)
    model.eval()
    prompts = find_prompts(load_prompts(opts.prompts) if opts.prompts else load_prompts(), store.name,
                           label_set, classes)
    classifier = zero_shot_classifier(model, classes, prompts)

    def g(signal, observed):
        return zero_shot_scores(model, signal, observed, classifier, batch_size=opts.batch_size)

    modes = opts.modes
    ref_fn = None
    if reference is not None:
        check_reference(reference, classes, store.fs)
        ref_fn = reference.probability_fn(opts.batch_size)
    elif "hard" in modes:
        raise ValueError("hard masks need a reference classifier (--reference)")
    stress = stress_test(g, test.signal, test.observed, test.labels, val.signal, val.observed, val.labels,
                         classes, ref_fn, prevalence, opts.kinds, modes, opts.seed, opts.n_boot,
                         n_candidates=opts.n_candidates, batch_size=opts.batch_size, progress=opts.progress)
    missing: dict[str, dict] = {}
    for c in stress.cells:
        d = evaluation_dict(c.evaluation)
        d["severity"] = c.severity
        if c.cmrs is not None:
            comp = c.cmrs.components
            d.update(cmrs=c.cmrs.score, impact=float(comp["impact"].mean()),
                     resolution=float(comp["resolution"].mean()))
            if opts.n_boot:  # like auroc_ci: absent without bootstrap resamples
                d["cmrs_ci"] = list(c.cmrs.bootstrap_ci(opts.n_boot, opts.seed))
            pc = c.cmrs.per_class_scores(classes)
            d["cmrs_per_class"] = dict(zip(pc["class"], pc["cmrs"]))
        missing.setdefault(c.kind, {})[c.mode] = d
    metrics: dict[str, Any] = {
        **(info or {}), "dataset": store.name, "label_set": label_set, "classes": list(classes),
        "n_train": int(len(idx["train"])), "n_val": int(len(idx["val"])), "n_test": int(len(idx["test"])),
        "seed": opts.seed, "n_boot": opts.n_boot, "n_candidates": opts.n_candidates,
        "prompts": opts.prompts or "packaged", "prevalence": prevalence.tolist(),
        "reference": None if reference is None else {
            "path": str(reference.path) if reference.path else None, "val_auroc": reference.info.get("val_auroc"),
            "encoder": reference.info.get("config", {}).get("encoder")},
        "zero_shot": {"clean": evaluation_dict(stress.clean), "missingness": missing},
    }
    result = EvaluationResult(metrics, "", stress)

    if opts.linear_probe:
        train = store.batch(idx["train"], label_set)
        feats = {name: encoder_features(model, b.signal, b.observed, opts.batch_size)
                 for name, b in (("train", train), ("val", val), ("test", test))}
        runs = run_probe_sizes(feats["train"], train.labels, feats["val"], val.labels, feats["test"], test.labels,
                               classes, fractions=opts.probe_fractions, seeds=(opts.seed,), n_boot=opts.n_boot)
        result.probes = runs
        metrics["linear_probe"] = probe_table(runs).to_dict(orient="records")

    if opts.attacks:
        heads = {"zero_shot": ZeroShotHead(model, classifier, scale=float(model.scale().detach()))}
        if result.probes:
            heads["linear_probe"] = ProbeHead(model, result.probes[-1].probe)
        rows = []
        sub = np.arange(len(test.signal))
        if opts.attack_records is not None and opts.attack_records < len(sub):
            sub = np.sort(np.random.default_rng(opts.seed).choice(len(sub), opts.attack_records, replace=False))
        metrics["adversarial_records"] = int(len(sub))
        for name, head in heads.items():
            for r in adversarial_curve(head, test.signal[sub], test.observed[sub], test.labels[sub], classes, opts.attacks,
                                       opts.eps, opts.norm, opts.eps_unit, opts.pgd_steps, opts.seed,
                                       opts.batch_size, opts.progress):
                rows.append({"head": name, **r})
        metrics["adversarial"] = rows

    if opts.masker_attack:
        attacker = attacker if attacker is not None else model
        if not getattr(attacker, "has_adversary", False):
            raise ValueError("the masker attack needs a model with an adversarial masker "
                             "(a SCAR checkpoint; pass one with --attack-masker)")
        metrics["masker_attack"] = masker_attack_rows(model, attacker, test.signal, test.observed, test.labels,
                                                      classes, g, opts.attack_budget, opts.seed, opts.batch_size)

    result.metrics = _finite(metrics)
    result.report = markdown_report(result.metrics)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(result.metrics, indent=2))
        (out / "report.md").write_text(result.report)
        write_tables(result.metrics, out)
        write_figures(result.metrics, out)
    return result


def zero_shot_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per condition (clean, then kind x mode) of the zero-shot results."""
    zs = metrics["zero_shot"]
    rows = []
    for kind, mode, d in [("clean", "", zs["clean"])] + [(k, m, d) for k, by in zs["missingness"].items()
                                                        for m, d in by.items()]:
        ci = d.get("auroc_ci") or (None, None)
        cci = d.get("cmrs_ci") or (None, None)  # absent in older metrics.json files
        rows.append({"condition": kind if kind == "clean" else f"{kind} {mode}", "kind": kind, "mode": mode,
                     "auroc": d.get("auroc"), "auroc_low": ci[0], "auroc_high": ci[1], "auprc": d.get("auprc"),
                     "f1": d.get("f1"), "severity": d.get("severity", 0.0), "cmrs": d.get("cmrs"),
                     "cmrs_low": cci[0], "cmrs_high": cci[1],
                     "impact": d.get("impact"), "resolution": d.get("resolution")})
    return rows


def write_tables(metrics: dict[str, Any], out: str | Path) -> list[Path]:
    """The tables of ``metrics.json`` as CSV files in ``out``; returns the paths written."""
    import csv

    out = Path(out)
    tables = {"zero_shot.csv": zero_shot_rows(metrics), "linear_probe.csv": metrics.get("linear_probe") or [],
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
        axes[1].bar(x, cm, yerr=cerr, color="#dd8452", capsize=3)
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


def markdown_report(metrics: dict[str, Any]) -> str:
    """The Markdown tables of ``metrics.json``: zero-shot clean and under missingness (with CMRS, its
    CI and per class when the metrics have them), the linear probe and the adversarial curve."""
    lines = [f"# Evaluation: {metrics.get('model', 'model')} on {metrics['dataset']} / {metrics['label_set']}", "",
             f"Test records: {metrics['n_test']}; seed {metrics['seed']}; bootstrap resamples {metrics['n_boot']}; "
             f"F1 thresholds chosen on validation ({metrics['n_val']} records).", "",
             "## Zero-shot under missingness", "",
             "| condition | AUROC [95% CI] | AUPRC | F1 | severity | CMRS [95% CI] |", "|---|---|---|---|---|---|"]
    zs = metrics["zero_shot"]
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
    lines += _per_class_cmrs_lines(zs["missingness"])
    if metrics.get("linear_probe"):
        lines += ["", "## Linear probe (frozen encoder)", "",
                  "| fraction | n train | best epoch | val AUROC | test AUROC [95% CI] | AUPRC | F1 |",
                  "|---|---|---|---|---|---|---|"]
        for r in metrics["linear_probe"]:
            ci = (r.get("test_auroc_low"), r.get("test_auroc_high"))
            lines.append(f"| {r['fraction']:g} | {r['n_train']} | {r['best_epoch']} | {_fmt(r['val_auroc'])} | "
                         f"{_fmt(r['test_auroc'], ci)} | {_fmt(r['test_auprc'])} | {_fmt(r['test_f1'])} |")
    if metrics.get("adversarial"):
        lines += ["", "## Adversarial robustness", "", f"On {metrics.get('adversarial_records', metrics['n_test'])} test records.", "", "| head | attack | eps | norm | macro AUROC | top-1 accuracy |",
                  "|---|---|---|---|---|---|"]
        for r in metrics["adversarial"]:
            lines.append(f"| {r['head']} | {r['attack']} | {r['eps']:g} {r['eps_unit']} | {r['norm']} | "
                         f"{_fmt(r['auroc'])} | {_fmt(r.get('accuracy'))} |")
    if metrics.get("masker_attack"):
        lines += ["", "## Adversarial masker as a test-time attack (zero-shot)", "",
                  "| removal | budget rho | severity | macro AUROC | top-1 accuracy |", "|---|---|---|---|---|"]
        for r in metrics["masker_attack"]:
            lines.append(f"| {r['attack']} | {r['budget']:g} | {r['severity']:.3f} | {_fmt(r['auroc'])} | "
                         f"{_fmt(r.get('accuracy'))} |")
    return "\n".join(lines) + "\n"
