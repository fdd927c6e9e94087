"""The contrastive-loss robustness study: linear-probe a frozen encoder, attack the probe end to end,
and summarise many (objective, seed) runs as tables and a figure.

Used by ``ecgfoundry study contrastive-robustness`` (:mod:`ecgfoundry.cli.study`), which pretrains one
encoder per objective and seed; this module only evaluates trained models and aggregates, so it
never imports the trainer.

Per run (:func:`probe_and_attack`):

1. Pooled encoder features (before any projection head) of the train, validation and test splits
   (:func:`ecgfoundry.eval.heads.encoder_features`).
2. A :class:`~ecgfoundry.eval.linear_probe.LinearProbe` on 100 % of the training split, the epoch
   chosen on validation macro AUROC (never on test).
3. Clean macro AUROC and top-1 accuracy on the whole test split, then FGSM and PGD (L-inf, budgets
   ``eps``) against the probe head *through the frozen encoder* (the gradient of the probe's BCE
   loss with respect to the input signal) on the attack set: the whole test split, or a seeded
   subsample of ``attack_n`` test records (the same records for every objective with that seed),
   with the clean numbers on that same set as ``eps = 0``. PGD takes at least 10 steps of
   ``2.5 eps / steps`` from a random start and keeps each record's highest-loss point, the FGSM
   point included (:func:`ecgfoundry.eval.adversarial.pgd`); ``worst`` is, per eps, the lowest AUROC
   (and accuracy) over the attacks (:func:`ecgfoundry.eval.attack_tables.worst_rows`).

Top-1 accuracy (:func:`ecgfoundry.eval.metrics.top1_accuracy`) is the fraction of records whose
highest-scoring class is one of their labels (multi-label tasks; records with no label are left out).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

__all__ = ["UNTRAINED", "StudySpec", "probe_and_attack", "untrained_control", "runs_table", "summarize",
           "markdown_table", "plot_curves", "paired_difference", "gap_lines", "study_report"]

UNTRAINED = "untrained"
"""The control: the encoder at the random initialisation every objective of a seed starts from (the
encoder is the first module built after ``torch.manual_seed(seed)``), probed and attacked without
any pretraining."""


@dataclass(frozen=True)
class StudySpec:
    """The settings of a contrastive-robustness study that its report states."""

    seeds: tuple[int, ...]
    encoder: str
    steps: int                           # pretraining steps of every objective
    batch_size: int
    lr: float
    attacks: tuple[str, ...]             # "fgsm", "pgd"
    eps_unit: str
    pgd_steps: int
    attack_n: int | None                 # attacked test records (seeded subsample); None: all


def _subset(n: int, attack_n: int | None, seed: int) -> np.ndarray:
    if attack_n is None or attack_n >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng([int(seed), 20250]).choice(n, size=int(attack_n), replace=False))


def probe_and_attack(model, store, label_set: str | None = None, seed: int = 0, attacks: Sequence[str] = ("fgsm", "pgd"),
                     eps: Sequence[float] = (0.01, 0.03, 0.1), eps_unit: str = "mV", norm: str = "linf",
                     pgd_steps: int = 10, attack_n: int | None = None, batch_size: int = 128,
                     progress: bool = True) -> dict[str, Any]:
    """Linear probe on the frozen encoder of ``model`` and its AUROC / accuracy under attack.

    Parameters
    ----------
    model : ECGTextModel or SSLModel
        Anything with ``ecg_tokens(signal, observed).pooled``.
    store : ArrayStore
        With train / val / test splits and labels.
    label_set : str, optional
        Default: the store's default label set.
    seed : int
        Probe initialisation and batch order, the attack subset, PGD's random start.
    attacks : subset of {"fgsm", "pgd"}
    eps : budgets in ``eps_unit`` (see :mod:`ecgfoundry.eval.adversarial`)
    pgd_steps : int
    attack_n : int or None
        Test records attacked (seeded subsample); None: all.

    Returns
    -------
    dict with ``attack_version`` (:data:`~ecgfoundry.eval.attack_tables.ATTACK_VERSION`), ``label_set``,
    ``classes``, ``n_train`` / ``n_val`` / ``n_test`` / ``n_attack``,
    ``probe`` (best epoch, validation AUROC), ``clean`` (macro AUROC and top-1 accuracy on the whole
    test split) and ``curve`` (rows ``attack``, ``eps``, ``auroc``, ``accuracy``, ``norm``,
    ``eps_unit``; the first row is ``attack="none"``, ``eps=0`` on the attack set; the ``"worst"``
    rows close it).
    """
    import torch

    from ecgfoundry.eval.linear_probe import LinearProbe
    from ecgfoundry.eval.metrics import macro_auroc, top1_accuracy
    from ecgfoundry.eval.attack_tables import ATTACK_VERSION, adversarial_curve
    from ecgfoundry.eval.heads import ProbeHead, encoder_features

    for a in attacks:
        if a not in ("fgsm", "pgd"):
            raise ValueError(f"unknown attack {a!r}; choose from fgsm, pgd")
    _, classes = store.labels(label_set)
    label_set = label_set or store.info.get("default_label_set")
    idx = {s: store.split_indices(s) for s in ("train", "val", "test")}
    for s, i in idx.items():
        if len(i) == 0:
            raise ValueError(f"{store.path}: the {s} split is empty")
    batches = {s: store.batch(i, label_set) for s, i in idx.items()}
    model.eval()
    feats = {s: encoder_features(model, b.signal, b.observed, batch_size) for s, b in batches.items()}
    probe = LinearProbe(seed=seed).fit(feats["train"], batches["train"].labels, feats["val"], batches["val"].labels)
    test = batches["test"]
    logits = probe.decision_function(feats["test"])
    clean = {"auroc": macro_auroc(test.labels, logits, classes).value, "accuracy": top1_accuracy(test.labels, logits)}
    sub = _subset(len(test), attack_n, seed)
    head = ProbeHead(model, probe)
    with torch.enable_grad():
        curve = adversarial_curve(head, test.signal[sub], test.observed[sub], test.labels[sub], classes, attacks, eps,
                                  norm=norm, eps_unit=eps_unit, steps=pgd_steps, seed=seed, batch_size=batch_size,
                                  progress=progress)
    return {"attack_version": ATTACK_VERSION, "label_set": label_set, "classes": list(classes),
            "n_train": int(len(idx["train"])),
            "n_val": int(len(idx["val"])), "n_test": int(len(idx["test"])), "n_attack": int(len(sub)),
            "probe": {"best_epoch": int(probe.best_epoch_), "val_auroc": float(probe.best_score_)},
            "clean": clean, "curve": curve}


def untrained_control(model_cfg, store, label_set: str | None, seed: int, attacks: Sequence[str] = ("fgsm", "pgd"),
                      eps: Sequence[float] = (0.01, 0.03, 0.1), eps_unit: str = "mV", pgd_steps: int = 10,
                      attack_n: int | None = None, progress: bool = True) -> dict[str, Any]:
    """:func:`probe_and_attack` on the model ``model_cfg`` builds right after ``torch.manual_seed(seed)``
    (the initial weights every objective of that seed starts from), untrained; tagged
    ``objective = UNTRAINED``, ``steps = 0``."""
    import torch

    from ecgfoundry.models.registry import create_model

    torch.manual_seed(seed)  # as the trainer does before building any model: the same initial encoder
    model = create_model(model_cfg)
    res = probe_and_attack(model, store, label_set, seed, attacks, eps, eps_unit, pgd_steps=pgd_steps,
                           attack_n=attack_n, progress=progress)
    res.update(objective=UNTRAINED, seed=seed, steps=0, pretrain_wall_s=0.0)
    return res


def _num(x) -> float:
    return float("nan") if x is None else float(x)


def runs_table(results: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per (objective, seed, condition): ``condition`` is ``clean`` (whole test split),
    ``none`` (clean, attack set) or the attack, with ``eps``, ``auroc`` and ``accuracy``.

    ``results`` are dicts with ``objective``, ``seed`` and the output of :func:`probe_and_attack`.
    """
    rows = []
    for r in results:
        base = {"objective": r["objective"], "seed": int(r["seed"])}
        rows.append({**base, "attack": "clean", "eps": 0.0, "auroc": _num(r["clean"]["auroc"]),
                     "accuracy": _num(r["clean"]["accuracy"]), "n": r["n_test"]})
        for c in r["curve"]:
            rows.append({**base, "attack": c["attack"], "eps": float(c["eps"]), "auroc": _num(c["auroc"]),
                         "accuracy": _num(c.get("accuracy")), "n": r["n_attack"]})
    table = pd.DataFrame(rows, columns=["objective", "seed", "attack", "eps", "auroc", "accuracy", "n"])
    return with_auroc_drop(table)


def with_auroc_drop(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with ``auroc_drop``: the run's clean AUROC on the attack set (its ``none`` row) minus
    the row's AUROC, i.e. what the attack costs, apart from the clean accuracy that the absolute AUROC
    also carries; NaN on the ``clean`` (whole test split) rows and for runs without a ``none`` row."""
    table = table.copy()
    clean = table[table["attack"] == "none"].groupby(["objective", "seed"])["auroc"].first()
    ref = clean.reindex(pd.MultiIndex.from_frame(table[["objective", "seed"]])).to_numpy(dtype=float)
    table["auroc_drop"] = np.where(table["attack"] == "clean", np.nan, ref - table["auroc"].to_numpy(dtype=float))
    return table


def summarize(table: pd.DataFrame, order: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean and sample standard deviation (ddof = 1; NaN for one seed) over seeds per objective,
    attack and eps; objectives in ``order`` (default: as first seen)."""
    if "auroc_drop" not in table:
        table = with_auroc_drop(table)
    g = table.groupby(["objective", "attack", "eps"], sort=False)
    out = g.agg(auroc_mean=("auroc", "mean"), auroc_sd=("auroc", "std"), accuracy_mean=("accuracy", "mean"),
                accuracy_sd=("accuracy", "std"), auroc_drop_mean=("auroc_drop", "mean"),
                auroc_drop_sd=("auroc_drop", "std"), n_seeds=("seed", "nunique")).reset_index()
    objectives = list(order) if order else list(dict.fromkeys(table["objective"]))
    out["_o"] = out["objective"].map({o: i for i, o in enumerate(objectives)})
    attack_rank = {"clean": 0, "none": 1, "fgsm": 2, "pgd": 3, "worst": 4}
    out["_a"] = out["attack"].map(lambda a: attack_rank.get(a, 9))
    return out.sort_values(["_o", "_a", "eps"]).drop(columns=["_o", "_a"]).reset_index(drop=True)


def _pm(mean: float, sd: float) -> str:
    if not math.isfinite(mean):
        return "n/a"
    return f"{mean:.3f} ± {sd:.3f}" if math.isfinite(sd) else f"{mean:.3f}"


def markdown_table(summary: pd.DataFrame, metric: str = "auroc", eps_unit: str = "mV", attack_set_is_test: bool = False
                   ) -> str:
    """A Markdown table: one row per objective; columns clean (whole test), clean on the attack set
    (left out when ``attack_set_is_test``: it is the same number), then each attack x eps on the
    attack set; cells ``mean ± sd`` over seeds. ``metric="auroc_drop"`` has the attack columns only."""
    cols = list(dict.fromkeys((a, e) for a, e in zip(summary["attack"], summary["eps"])
                              if not (attack_set_is_test and a == "none")
                              and not (metric == "auroc_drop" and a in ("clean", "none"))))

    def name(a, e):
        if a == "clean":
            return "clean (all test)"
        if a == "none":
            return "clean (attack set)"
        return f"{a.upper()} {e:g} {eps_unit}"

    lines = ["| objective | " + " | ".join(name(a, e) for a, e in cols) + " |",
             "|---|" + "---|" * len(cols)]
    for obj, part in summary.groupby("objective", sort=False):
        cells = {(a, e): _pm(m, s) for a, e, m, s in zip(part["attack"], part["eps"], part[f"{metric}_mean"],
                                                          part[f"{metric}_sd"])}
        lines.append(f"| {obj} | " + " | ".join(cells.get(c, "n/a") for c in cols) + " |")
    return "\n".join(lines)


def plot_curves(table: pd.DataFrame, path: str | Path, title: str = "", eps_unit: str = "mV") -> Path:
    """Macro AUROC against eps per objective (one panel per attack): the mean over seeds as a line,
    every seed as a faint point, the band mean ± sd. Written with matplotlib's Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    attacks = [a for a in ("fgsm", "pgd", "worst") if a in set(table["attack"])] or ["none"]
    objectives = list(dict.fromkeys(table["objective"]))
    fig, axes = plt.subplots(1, len(attacks), figsize=(5.2 * len(attacks), 4.0), squeeze=False, sharey=True)
    cmap = plt.get_cmap("tab10")
    for ax, attack in zip(axes[0], attacks):
        for k, obj in enumerate(objectives):
            t = table[(table["objective"] == obj) & table["attack"].isin(["none", attack])]
            if t.empty:
                continue
            stats = t.groupby("eps")["auroc"].agg(["mean", "std"]).reset_index().sort_values("eps")
            color = cmap(k % 10)
            ax.plot(stats["eps"], stats["mean"], marker="o", color=color, label=obj)
            sd = stats["std"].fillna(0.0)
            ax.fill_between(stats["eps"], stats["mean"] - sd, stats["mean"] + sd, color=color, alpha=0.15, lw=0)
            ax.scatter(t["eps"], t["auroc"], color=color, s=8, alpha=0.35)
        ax.axhline(0.5, color="grey", lw=0.8, ls="--")
        ax.set_xlabel(f"epsilon (L-inf, {eps_unit})")
        ax.set_title({"none": "clean", "worst": "worst over attacks"}.get(attack, attack.upper()))
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("macro AUROC (linear probe)")
    axes[0][-1].legend(fontsize=8, loc="lower left")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def paired_difference(table, attack: str, eps: float, best: str, worst: str, metric: str = "auroc") -> str:
    """``mean ± sd`` over seeds of the per-seed difference best - worst of ``metric`` (same seed: same
    initial encoder, same attack records) and how many seeds agree in sign."""
    t = table[(table["attack"] == attack) & (table["eps"] == eps)]
    a = t[t["objective"] == best].set_index("seed")[metric]
    b = t[t["objective"] == worst].set_index("seed")[metric]
    d = (a - b).dropna()
    if d.empty:
        return "n/a"
    sd = f" ± {d.std():.3f}" if len(d) > 1 else ""
    return f"{d.mean():+.3f}{sd} ({int((d > 0).sum())}/{len(d)} seeds > 0)"


def gap_lines(summary, table, attack_set_is_test: bool, metric: str = "auroc") -> list[str]:
    """Per condition: the spread of the pretrained objectives' mean ``metric`` next to the typical
    seed-to-seed sd, the paired (per-seed) difference of the best and worst, and the untrained control.
    ``metric="auroc"``: best = highest AUROC; ``"auroc_drop"``: best = the smallest loss to the attack
    (attack conditions only; the paired column is then the worst's loss minus the best's, positive in
    the seeds where the best loses less)."""
    drop = metric == "auroc_drop"
    if "auroc_drop" not in table:
        table = with_auroc_drop(table)
    mean, sdcol = f"{metric}_mean", f"{metric}_sd"
    paired_name = "paired loss, worst - best" if drop else "paired best - worst"
    lines = ["| condition | best objective | worst objective | gap of means | mean seed sd | gap / sd | "
             f"{paired_name} | untrained |", "|---|---|---|---|---|---|---|---|"]
    for (attack, eps), part in summary.groupby(["attack", "eps"], sort=False):
        part = part[part[mean].notna()]
        control = part[part["objective"] == UNTRAINED]
        part = part[part["objective"] != UNTRAINED]
        if part.empty or (attack_set_is_test and attack == "none") or (drop and attack in ("clean", "none")):
            continue
        best = part.loc[part[mean].idxmin() if drop else part[mean].idxmax()]
        worst = part.loc[part[mean].idxmax() if drop else part[mean].idxmin()]
        gap = abs(float(best[mean] - worst[mean]))
        sd = float(part[sdcol].mean())
        ratio = f"{gap / sd:.1f}" if math.isfinite(sd) and sd > 0 else "n/a"
        sd_text = f"{sd:.3f}" if math.isfinite(sd) else "n/a (one seed)"
        ctrl = "-" if control.empty else f"{float(control[mean].iloc[0]):.3f}"
        name = {"clean": "clean (all test)", "none": "clean (attack set)"}.get(attack, f"{attack.upper()} {eps:g}")
        first, second = (worst, best) if drop else (best, worst)  # positive: the best is better in that seed
        paired = paired_difference(table, attack, eps, first["objective"], second["objective"], metric)
        lines.append(f"| {name} | {best['objective']} ({best[mean]:.3f}) | {worst['objective']} "
                     f"({worst[mean]:.3f}) | {gap:.3f} | {sd_text} | {ratio} | {paired} | {ctrl} |")
    return lines


def study_report(spec: StudySpec, command: str, store, label_set, results, summary, table, run_seconds: float,
                 elapsed: float, busy: list[str] | None = None) -> str:
    """The study's ``report.md``: the command that reproduces it, the data and settings, the AUROC and
    accuracy tables (:func:`markdown_table`), the gaps between objectives next to the seed spread
    (:func:`gap_lines`) and the figure."""
    r0 = results[0] if results else {}
    same = spec.attack_n is None
    lines = [
        "# Contrastive-loss robustness study", "",
        "Command (seeds " + ", ".join(map(str, spec.seeds)) + "):", "", "```", command, "```", "",
        f"- data: `{store.name}` ({store.path}), label set `{label_set}`, {r0.get('n_train', '?')} train / "
        f"{r0.get('n_val', '?')} validation / {r0.get('n_test', '?')} test records; attacks on "
        f"{r0.get('n_attack', '?')} test records" + (" (seeded subsample, the same for every objective of a seed)"
                                                      if spec.attack_n else ""),
        f"- every objective: encoder `{spec.encoder}`, {spec.steps} steps, batch {spec.batch_size}, lr {spec.lr:g} "
        f"(AdamW, warm-up + cosine), the same seed for pretraining, probe and attacks",
        "- probe: linear, frozen pooled encoder features, 100 % of the training split, epoch chosen on validation "
        "macro AUROC; accuracy is top-1 (highest-scoring class among the record's labels)",
        f"- attacks: {', '.join(a.upper() for a in spec.attacks)}, L-inf, eps in {spec.eps_unit}, PGD {spec.pgd_steps} "
        "steps (step 2.5 eps / steps, random start, each record's highest-loss point kept, the FGSM point "
        "included); the probe's BCE is maximised through the frozen encoder; WORST is, per eps, the lowest "
        "value over the attacks (a higher loss on every record does not always give a lower AUROC)",
        f"- compute: {run_seconds / 60:.1f} min of wall time summed over the runs (pretraining, probe, "
        f"attacks; runs computed in parallel processes overlap), {elapsed / 60:.1f} min wall in the invocation "
        "that wrote this report",
        "", "## Macro AUROC (mean ± sd over seeds)", "", markdown_table(summary, "auroc", spec.eps_unit, same), "",
        "## Top-1 accuracy (mean ± sd over seeds)", "", markdown_table(summary, "accuracy", spec.eps_unit, same), "",
        "## Differences between objectives next to the seed-to-seed spread (macro AUROC)", "",
        *gap_lines(summary, table, same), "",
        "Best and worst among the pretrained objectives (the untrained control is its own column); "
        "`mean seed sd` is the mean over those objectives of the sd over seeds. A `gap / sd` below about 2 "
        "means the objectives are not distinguishable with these seeds. The paired column compares best and worst "
        "within each seed (same initial encoder, same attacked records), which removes the spread that comes "
        "from the seed's attack subset.", "",
        "## Macro AUROC lost to the attack (clean on the attack set minus attacked; mean ± sd over seeds)", "",
        "The absolute AUROC under attack also carries each encoder's clean AUROC; the loss is the attack's "
        "own cost, so objectives are compared on robustness here (lower is more robust).", "",
        markdown_table(summary, "auroc_drop", spec.eps_unit, same), "",
        *gap_lines(summary, table, same, metric="auroc_drop"), "",
        "Best = the pretrained objective that loses least; the paired column is the worst's loss minus the "
        "best's within each seed (positive where the best loses less).", "",
        "![AUROC against epsilon](robustness.png)", "",
        "Files: `runs.csv` (every run and condition), `summary.csv` (mean / sd / number of seeds).", ""]
    if busy:
        lines[1:1] = ["", f"**Incomplete**: {len(busy)} run(s) were still being computed by other processes "
                          f"({', '.join(busy)}); rerun the command when they are done."]
    return "\n".join(lines)
