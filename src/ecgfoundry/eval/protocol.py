"""The whole evaluation of an ECG-text model on one dataset and label set (``ecgfoundry evaluate``).

1. **Zero-shot** scores ``cos(z, u_k)`` on the test split (prompts from the prompt file), clean and
   under every requested missingness kind x mode, with CMRS against a reference classifier F
   (:mod:`ecgfoundry.eval.stress`), its record-level bootstrap CI and its per-class breakdown
   (:mod:`ecgfoundry.eval.cmrs`).
2. Optionally a **linear probe** on the frozen encoder's pooled features at 1 / 10 / 100 % of the
   training split (:mod:`ecgfoundry.eval.linear_probe`), and with ``probe_missingness`` the probe
   trained under Rand. masks of each listed kind and tested under the stress test's masks
   (``linear_probe_missingness`` in ``metrics.json``; :func:`~ecgfoundry.eval.linear_probe.probe_under_missingness`).
3. Optionally **adversarial** macro AUROC and top-1 accuracy under FGSM / PGD for the zero-shot head
   (and the 100 % probe) with the worst case over the attacks at each budget (``attack="worst"``,
   :func:`~ecgfoundry.eval.attack_tables.worst_rows`), and SCAR's adversarial masker used as a
   test-time attack at its budget rho (:mod:`ecgfoundry.eval.masker_attack`), next to the same number
   of tokens removed at random.

Everything is written to ``metrics.json`` and ``report.md`` in the output folder, the tables also as
CSV (``zero_shot.csv``, ``linear_probe.csv``, ``adversarial.csv``, ``masker_attack.csv``) and the
figures as PNG (``missingness.png``: AUROC and CMRS per missingness type; ``adversarial.png``: AUROC
and accuracy against epsilon).

This module orchestrates; the parts live beside it: model heads and features in
:mod:`ecgfoundry.eval.heads`, the attack tables in :mod:`ecgfoundry.eval.attack_tables`, the files
and the Markdown report in :mod:`ecgfoundry.eval.protocol_report`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ecgfoundry.eval.attack_tables import adversarial_curve, masker_attack_rows
from ecgfoundry.eval.heads import ProbeHead, encoder_features
from ecgfoundry.eval.metrics import Evaluation
from ecgfoundry.eval.missingness import KINDS
from ecgfoundry.eval.protocol_report import markdown_report, write_figures, write_tables, zero_shot_rows
from ecgfoundry.eval.stress import MODES, N_CANDIDATES, StressReport

__all__ = ["EvaluateOptions", "EvaluationResult", "run_evaluation", "evaluation_dict", "find_prompts",
           # re-exported from the modules they moved to (heads, attack_tables, protocol_report)
           "ProbeHead", "encoder_features", "adversarial_curve", "masker_attack_rows", "zero_shot_rows",
           "write_tables", "write_figures", "markdown_report"]


HEADS = ("zero_shot", "linear_probe")


def has_text(model) -> bool:
    """Whether ``model`` embeds text (an ECG-text model), so that zero-shot applies; ECG-only models
    (SimCLR, MoCo, BYOL, CLEF) are evaluated through a linear probe instead."""
    return bool(getattr(model, "needs_text", True)) and callable(getattr(model, "encode_text", None))


@dataclass(frozen=True)
class EvaluateOptions:
    """What ``ecgfoundry evaluate`` computes (CLI flags map onto these fields)."""

    label_set: str | None = None
    kinds: tuple[str, ...] = KINDS
    modes: tuple[str, ...] = MODES
    seed: int = 0
    n_boot: int = 1000
    n_candidates: int = N_CANDIDATES          # candidates per record for hard masks (Rand.'s included)
    prompts: str | None = None                # prompt file (default: the packaged one)
    linear_probe: bool = False
    probe_fractions: tuple[float, ...] = (0.01, 0.1, 1.0)
    attacks: tuple[str, ...] = ()             # "fgsm", "pgd"
    eps: tuple[float, ...] = (0.01, 0.05)
    eps_unit: str = "mV"
    norm: str = "linf"
    pgd_steps: int = 10                       # at least eval.adversarial.MIN_PGD_STEPS
    probe_missingness: tuple[str, ...] = ()   # kinds the probe is also trained and tested under
    masker_attack: bool = False               # the adversarial masker as a test-time attack
    attack_budget: float | None = None        # its rho (default: the masker's own)
    attack_records: int | None = None         # FGSM / PGD on a seeded subset of this many test records
    batch_size: int = 128
    progress: bool = True
    head: str = "zero_shot"                   # the head stressed and attacked: "zero_shot" | "linear_probe"

    def __post_init__(self) -> None:
        if self.head not in HEADS:
            raise ValueError(f"unknown head {self.head!r}; choose from {', '.join(HEADS)}")
        if self.head == "linear_probe" and not self.linear_probe:
            raise ValueError("head='linear_probe' needs linear_probe=True (the probe is the head)")
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
        from ecgfoundry.eval.adversarial import MIN_PGD_STEPS

        if "pgd" in self.attacks and self.pgd_steps < MIN_PGD_STEPS:
            raise ValueError(f"PGD needs at least {MIN_PGD_STEPS} steps (pgd_steps), got {self.pgd_steps}")
        for k in self.probe_missingness:
            if k not in KINDS:
                raise ValueError(f"unknown probe missingness type {k!r}; choose from {', '.join(KINDS)}")
        if self.probe_missingness and not self.linear_probe:
            raise ValueError("probe_missingness needs linear_probe=True")


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


def _probe_missingness(model, store, train_idx, label_set, val, test, classes, opts, ref_fn, probes) -> list:
    """The 100 % probe trained under Rand. masks and tested under the stress test's masks of each
    kind in ``opts.probe_missingness`` (its modes; Rand. only when the stress test is off)."""
    from ecgfoundry.eval.linear_probe import probe_under_missingness
    from ecgfoundry.eval.stress import cell_masks

    train = store.batch(train_idx, label_set)
    modes = opts.modes or ("rand",)
    clean = next((r.probe for r in probes if r.fraction == 1.0), None)

    def masks(kind, mode):
        return cell_masks(kind, mode, test.signal, test.observed, opts.seed, ref_fn, opts.n_candidates,
                          opts.batch_size)

    return probe_under_missingness(lambda s, o: encoder_features(model, s, o, opts.batch_size),
                                   (train.signal, train.observed, train.labels), (val.signal, val.observed, val.labels),
                                   (test.signal, test.observed, test.labels), classes, opts.probe_missingness, masks,
                                   modes, opts.seed, opts.n_boot, clean)


# ----------------------------------------------------------------------------- the run

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
    from ecgfoundry.eval.stress import cell_metrics, stress_test
    from ecgfoundry.eval.zero_shot import ZeroShotHead, zero_shot_classifier, zero_shot_scores

    if opts.masker_attack:  # refused before any work
        from ecgfoundry.eval.masker_attack import masker_attack_unsupported

        why = masker_attack_unsupported(attacker if attacker is not None else model)
        if why is not None:
            raise ValueError(f"masker attack: {why} (pass another model with --attack-masker)")
    y_all, classes = store.labels(opts.label_set)
    label_set = opts.label_set or store.info.get("default_label_set")
    idx = {s: store.split_indices(s) for s in ("train", "val", "test")}
    for s, i in idx.items():
        if len(i) == 0:
            raise ValueError(f"{store.path}: the {s} split is empty")
    test, val = store.batch(idx["test"], label_set), store.batch(idx["val"], label_set)
    prevalence = y_all[idx["train"]].mean(axis=0)
    model.eval()
    probes: list = []
    if opts.head == "zero_shot":
        if not has_text(model):
            raise ValueError(f"{type(model).__name__} ({getattr(model.cfg, 'objective', '?')}) is an ECG-only "
                             "model without a text encoder: no zero-shot; evaluate it with head='linear_probe'")
        prompts = find_prompts(load_prompts(opts.prompts) if opts.prompts else load_prompts(), store.name,
                               label_set, classes)
        classifier = zero_shot_classifier(model, classes, prompts)

        def g(signal, observed):
            return zero_shot_scores(model, signal, observed, classifier, batch_size=opts.batch_size)
    else:  # the 100 % linear probe is the head that is stressed and attacked
        train = store.batch(idx["train"], label_set)
        feats = {name: encoder_features(model, b.signal, b.observed, opts.batch_size)
                 for name, b in (("train", train), ("val", val), ("test", test))}
        probes = run_probe_sizes(feats["train"], train.labels, feats["val"], val.labels, feats["test"],
                                 test.labels, classes, fractions=opts.probe_fractions, seeds=(opts.seed,),
                                 n_boot=opts.n_boot)
        probe_head = ProbeHead(model, probes[-1].probe).eval()

        def g(signal, observed):
            import torch

            out = []
            with torch.no_grad():
                for a in range(0, len(signal), opts.batch_size):
                    x = torch.as_tensor(np.asarray(signal[a:a + opts.batch_size], dtype=np.float32))
                    o = torch.as_tensor(np.asarray(observed[a:a + opts.batch_size], dtype=bool))
                    out.append(probe_head(x, o).float().numpy())
            return np.concatenate(out)

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
    for c in stress.cells:  # severity, F's AUROC, cmrs / cmrs_clean / cmrs_self / cmrs_robust with CIs
        d = {**evaluation_dict(c.evaluation), **cell_metrics(c, classes, opts.n_boot, opts.seed)}
        missing.setdefault(c.kind, {})[c.mode] = d
    clean_block = evaluation_dict(stress.clean)
    if stress.reference_auroc is not None:
        clean_block["reference_auroc"] = stress.reference_auroc
        if stress.reference_auroc_ci is not None:
            clean_block["reference_auroc_ci"] = list(stress.reference_auroc_ci)
    metrics: dict[str, Any] = {
        **(info or {}), "dataset": store.name, "label_set": label_set, "classes": list(classes),
        "n_train": int(len(idx["train"])), "n_val": int(len(idx["val"])), "n_test": int(len(idx["test"])),
        "seed": opts.seed, "n_boot": opts.n_boot, "n_candidates": opts.n_candidates,
        "prompts": opts.prompts or "packaged", "prevalence": prevalence.tolist(),
        "reference": None if reference is None else {
            "path": str(reference.path) if reference.path else None, "val_auroc": reference.info.get("val_auroc"),
            "encoder": reference.info.get("config", {}).get("encoder")},
        "head": opts.head,
        ("zero_shot" if opts.head == "zero_shot" else "linear_probe_stress"):
            {"clean": clean_block, "missingness": missing},
    }
    result = EvaluationResult(metrics, "", stress)

    if probes:
        result.probes = probes
        metrics["linear_probe"] = probe_table(probes).to_dict(orient="records")
    elif opts.linear_probe:
        train = store.batch(idx["train"], label_set)
        feats = {name: encoder_features(model, b.signal, b.observed, opts.batch_size)
                 for name, b in (("train", train), ("val", val), ("test", test))}
        runs = run_probe_sizes(feats["train"], train.labels, feats["val"], val.labels, feats["test"], test.labels,
                               classes, fractions=opts.probe_fractions, seeds=(opts.seed,), n_boot=opts.n_boot)
        result.probes = runs
        metrics["linear_probe"] = probe_table(runs).to_dict(orient="records")
    if opts.probe_missingness:
        metrics["linear_probe_missingness"] = _probe_missingness(model, store, idx["train"], label_set, val, test,
                                                                 classes, opts, ref_fn, result.probes)

    if opts.attacks:
        heads = ({"zero_shot": ZeroShotHead(model, classifier, scale=float(model.scale().detach()))}
                 if opts.head == "zero_shot" else {})
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


