"""The whole evaluation of an ECG-text model on one dataset and label set (``ecgfoundry evaluate``).

1. **Zero-shot** scores ``cos(z, u_k)`` on the test split (prompts from the prompt file), clean and
   under every requested missingness kind x mode, with CMRS against a reference classifier F
   (:mod:`ecgfoundry.eval.stress`).
2. Optionally a **linear probe** on the frozen encoder's pooled features at 1 / 10 / 100 % of the
   training split (:mod:`ecgfoundry.eval.linear_probe`).
3. Optionally **adversarial** AUROC under FGSM / PGD for the zero-shot head (and the 100 % probe).

Everything is written to ``metrics.json`` and ``report.md`` in the output folder.
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

from ecgfoundry.eval.metrics import Evaluation, macro_auroc
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


def _fmt(value, ci=None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    s = f"{value:.3f}"
    if ci and ci[0] is not None and ci[1] is not None and all(math.isfinite(c) for c in ci):
        s += f" [{ci[0]:.3f}, {ci[1]:.3f}]"
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
    """Macro AUROC of ``head`` (logits) on the test records under each attack and budget.

    The attack maximises multi-label BCE on the true labels (:mod:`ecgfoundry.eval.adversarial`).
    """
    from ecgfoundry.eval.adversarial import fgsm, pgd
    from ecgfoundry.eval.predict import probability_fn
    from ecgfoundry.progress import track

    score = probability_fn(head, "none", batch_size=batch_size)
    rows = [{"attack": "none", "eps": 0.0, "auroc": macro_auroc(y, score(signal, observed), classes).value}]
    grid = [(a, e) for a in attacks for e in eps]
    for attack, e in track(grid, "adversarial attacks", enabled=progress):
        if attack == "fgsm":
            adv = fgsm(head, signal, observed, y, e, norm=norm, eps_unit=eps_unit, batch_size=batch_size)
        else:
            adv = pgd(head, signal, observed, y, e, steps=steps, seed=seed, norm=norm, eps_unit=eps_unit,
                      batch_size=batch_size)
        rows.append({"attack": attack, "eps": float(e),
                     "auroc": macro_auroc(y, score(adv, observed), classes).value})
    for r in rows:
        r.update(norm=norm, eps_unit=eps_unit)
    return rows


# ----------------------------------------------------------------------------- the run

def run_evaluation(model, store, opts: EvaluateOptions, reference=None, out: str | Path | None = None,
                   info: dict[str, Any] | None = None) -> EvaluationResult:
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
        for name, head in heads.items():
            for r in adversarial_curve(head, test.signal, test.observed, test.labels, classes, opts.attacks,
                                       opts.eps, opts.norm, opts.eps_unit, opts.pgd_steps, opts.seed,
                                       opts.batch_size, opts.progress):
                rows.append({"head": name, **r})
        metrics["adversarial"] = rows

    result.metrics = _finite(metrics)
    result.report = markdown_report(result.metrics)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(result.metrics, indent=2))
        (out / "report.md").write_text(result.report)
    return result


def markdown_report(metrics: dict[str, Any]) -> str:
    """The Markdown tables of ``metrics.json``: zero-shot clean and under missingness (with CMRS),
    the linear probe and the adversarial curve."""
    lines = [f"# Evaluation: {metrics.get('model', 'model')} on {metrics['dataset']} / {metrics['label_set']}", "",
             f"Test records: {metrics['n_test']}; seed {metrics['seed']}; bootstrap resamples {metrics['n_boot']}; "
             f"F1 thresholds chosen on validation ({metrics['n_val']} records).", "",
             "## Zero-shot under missingness", "",
             "| condition | AUROC [95% CI] | AUPRC | F1 | severity | CMRS |", "|---|---|---|---|---|---|"]
    zs = metrics["zero_shot"]
    c = zs["clean"]
    lines.append(f"| clean | {_fmt(c['auroc'], c.get('auroc_ci'))} | {_fmt(c['auprc'])} | {_fmt(c['f1'])} | 0 | - |")
    for kind, by_mode in zs["missingness"].items():
        for mode, d in by_mode.items():
            if "cmrs" not in d:
                cm = "-"  # no reference
            else:
                cm = "n/a" if d["cmrs"] is None else f"{d['cmrs']:.1f}"
            lines.append(f"| {kind} {mode} | {_fmt(d['auroc'], d.get('auroc_ci'))} | {_fmt(d['auprc'])} | "
                         f"{_fmt(d['f1'])} | {d['severity']:.3f} | {cm} |")
    if c.get("skipped"):
        lines += ["", "Classes skipped (test): " + ", ".join(f"{k} ({v})" for k, v in c["skipped"].items())]
    if metrics.get("linear_probe"):
        lines += ["", "## Linear probe (frozen encoder)", "",
                  "| fraction | n train | best epoch | val AUROC | test AUROC [95% CI] | AUPRC | F1 |",
                  "|---|---|---|---|---|---|---|"]
        for r in metrics["linear_probe"]:
            ci = (r.get("test_auroc_low"), r.get("test_auroc_high"))
            lines.append(f"| {r['fraction']:g} | {r['n_train']} | {r['best_epoch']} | {_fmt(r['val_auroc'])} | "
                         f"{_fmt(r['test_auroc'], ci)} | {_fmt(r['test_auprc'])} | {_fmt(r['test_f1'])} |")
    if metrics.get("adversarial"):
        lines += ["", "## Adversarial robustness (macro AUROC)", "", "| head | attack | eps | norm | AUROC |",
                  "|---|---|---|---|---|"]
        for r in metrics["adversarial"]:
            lines.append(f"| {r['head']} | {r['attack']} | {r['eps']:g} {r['eps_unit']} | {r['norm']} | "
                         f"{_fmt(r['auroc'])} |")
    return "\n".join(lines) + "\n"
