"""The attack tables of an evaluation: macro AUROC and top-1 accuracy of a head under FGSM / PGD at each
budget, with the worst case over the attacks (:func:`adversarial_curve`), and of a zero-shot scorer
when SCAR's masker removes its top-rho tokens next to as many random tokens (:func:`masker_attack_rows`)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from torch import nn

from ecgfoundry.eval.metrics import macro_auroc, top1_accuracy

__all__ = ["ATTACK_VERSION", "WORST", "adversarial_curve", "worst_rows", "masker_attack_rows", "auroc_selection"]

ATTACK_VERSION = 3
"""Version of the FGSM / PGD rows: 3 = as 2, and PGD's points are then kept record by record only
where they lower the macro AUROC reached from the FGSM points (:func:`auroc_selection`), so PGD's
AUROC is never above FGSM's; 2 = PGD keeps each record's highest-loss point (FGSM point included),
at least 10 steps, and ``"worst"`` rows; 1 (absent) = plain PGD, no worst rows. Saved results of
another version are not mixed with new ones."""


def auroc_selection(y, base, candidate) -> tuple[np.ndarray, np.ndarray]:
    """Scores that start at ``base`` and take, record by record, the ``candidate`` scores wherever that
    does not raise the macro AUROC (over the classes with positives and negatives); returns the
    scores ``(N, K)`` and which records took the candidate ``(N,)`` bool.

    A loss-maximising attack raises every record's loss, yet AUROC ranks records against each other,
    so PGD's points can give a higher AUROC than FGSM's (measured on trained models). Selecting PGD's
    point per record against the metric itself, from FGSM's points, makes the reported PGD never
    weaker than FGSM in macro AUROC: the attacker uses every record's labels, as the loss does.
    Records are visited in order of the candidate's macro-AUROC change alone (most lowering first), in
    passes until every record left at its base score would raise the AUROC; each change is computed
    exactly (pairs won and lost, ties counting 1/2).
    """
    y = np.asarray(y).astype(bool)
    cur = np.array(base, dtype=np.float64, copy=True)
    cand = np.asarray(candidate, dtype=np.float64)
    if cur.shape != cand.shape or cur.shape != y.shape:
        raise ValueError(f"y {y.shape}, base {cur.shape} and candidate {cand.shape} must have one shape")
    pos, neg = y.sum(0), (~y).sum(0)
    valid = (pos > 0) & (neg > 0)
    taken = np.zeros(len(y), dtype=bool)
    if not valid.any():
        return cur, taken
    pairs = np.where(valid, pos * neg, 1).astype(np.float64)

    def gain(i: int) -> float:
        """Change of the summed per-class AUROC if record i moves from its current to its candidate score."""
        others = np.ones(len(y), dtype=bool)
        others[i] = False
        total = 0.0
        for k in np.flatnonzero(valid):
            opp = others & (y[:, k] != y[i, k])  # the records it is ranked against
            s_opp = cur[opp, k]

            def won(v):
                return (s_opp < v).sum() + 0.5 * (s_opp == v).sum()

            d = won(cand[i, k]) - won(cur[i, k])
            total += (d if y[i, k] else -d) / pairs[k]
        return total

    order = np.argsort([gain(i) for i in range(len(y))], kind="stable")  # most AUROC-lowering first
    changed = True
    while changed:  # passes until no record left at base would lower the AUROC (each move lowers it)
        changed = False
        for i in order:
            if not taken[i] and gain(i) <= 0:
                cur[i] = cand[i]
                taken[i] = changed = True
    return cur, taken

WORST = "worst"
"""The ``attack`` of the rows that hold, per budget, the lowest macro AUROC and the lowest top-1
accuracy over the attacks run (:func:`worst_rows`)."""


def worst_rows(rows: Sequence[dict[str, Any]], y=None, scores: dict | None = None) -> list[dict[str, Any]]:
    """Per ``eps``, the worst case over the attacks in ``rows``.

    ``auroc`` is the lowest macro AUROC over the attacks at that budget, with the attack that reached
    it (``auroc_attack``): the minimum is over whole attacks, because AUROC ranks records against
    each other and has no per-record worst case. ``accuracy`` is per record, as in AutoAttack
    (Croce & Hein, 2020): a record counts as correct only if its top-1 class is one of its labels
    under every attack (``accuracy_attack`` is ``"per record"``); this needs the labels ``y`` and
    ``scores[(attack, eps)]`` ``(N, K)``. Without them it is the lowest accuracy over the attacks, with
    the attack named.

    PGD already keeps, per record, the highest-loss point among its iterates and the FGSM point
    (:func:`ecgfoundry.eval.adversarial.pgd`), but a higher loss on every record does not always give
    a lower AUROC, so a reader takes this row as the attack result. Rows with ``attack`` ``"none"`` or
    ``"worst"`` and missing values (NaN / None) are ignored.
    """
    def ok(v):
        return v is not None and v == v

    out = []
    attacked = [r for r in rows if r["attack"] not in ("none", WORST)]
    for e in dict.fromkeys(float(r["eps"]) for r in attacked):
        at = [r for r in attacked if float(r["eps"]) == e]
        row: dict[str, Any] = {"attack": WORST, "eps": e}
        for key in ("auroc", "accuracy"):
            vals = [r for r in at if ok(r.get(key))]
            low = min(vals, key=lambda r: r[key]) if vals else None
            row[key] = low[key] if low else float("nan")
            row[f"{key}_attack"] = low["attack"] if low else None
        if y is not None and scores is not None and at:
            row["accuracy"], row["accuracy_attack"] = _per_record_accuracy(
                y, [scores[(r["attack"], float(r["eps"]))] for r in at]), "per record"
        out.append(row)
    return out


def _per_record_accuracy(y, scores: Sequence) -> float:
    """Top-1 accuracy when a record is correct only if it is under every score matrix (records with no
    label left out, as in :func:`~ecgfoundry.eval.metrics.top1_accuracy`)."""
    y = np.asarray(y).astype(bool)
    has = y.any(axis=1)
    if not has.any():
        return float("nan")
    hit = np.ones(len(y), dtype=bool)
    for s in scores:
        hit &= y[np.arange(len(y)), np.asarray(s).argmax(axis=1)]
    return float(hit[has].mean())


def adversarial_curve(head: nn.Module, signal, observed, y, classes, attacks: Sequence[str], eps: Sequence[float],
                      norm: str = "linf", eps_unit: str = "mV", steps: int = 10, seed: int = 0,
                      batch_size: int = 128, progress: bool = True) -> list[dict[str, Any]]:
    """Macro AUROC and top-1 accuracy (:func:`~ecgfoundry.eval.metrics.top1_accuracy`) of ``head``
    (logits) on the test records under each attack and budget, then one ``"worst"`` row per budget
    (:func:`worst_rows`: the lowest AUROC over the attacks; accuracy worst record by record).

    The attack maximises multi-label BCE on the true labels (:mod:`ecgfoundry.eval.adversarial`); PGD
    takes ``steps`` (at least :data:`~ecgfoundry.eval.adversarial.MIN_PGD_STEPS`) steps of
    ``2.5 * eps / steps`` from a seeded random start. When FGSM runs at the same budget, PGD's points
    are then kept record by record only where they lower the macro AUROC reached from FGSM's points
    (:func:`auroc_selection`; ``pgd_records_taken`` in the row), so PGD's AUROC is never above FGSM's.
    """
    from ecgfoundry.eval.adversarial import MIN_PGD_STEPS

    if "pgd" in attacks and steps < MIN_PGD_STEPS:
        raise ValueError(f"PGD needs at least {MIN_PGD_STEPS} steps, got {steps}")
    from ecgfoundry.eval.adversarial import fgsm, pgd
    from ecgfoundry.eval.predict import probability_fn
    from ecgfoundry.progress import track

    score = probability_fn(head, "none", batch_size=batch_size)
    clean = score(signal, observed)
    rows = [{"attack": "none", "eps": 0.0, "auroc": macro_auroc(y, clean, classes).value,
             "accuracy": top1_accuracy(y, clean)}]
    grid = [(a, e) for a in attacks for e in eps]
    scores = {}
    for attack, e in track(grid, "adversarial attacks", enabled=progress):
        if attack == "fgsm":
            adv = fgsm(head, signal, observed, y, e, norm=norm, eps_unit=eps_unit, batch_size=batch_size)
        else:
            adv = pgd(head, signal, observed, y, e, steps=steps, seed=seed, norm=norm, eps_unit=eps_unit,
                      batch_size=batch_size)
        scores[(attack, float(e))] = score(adv, observed)
    for attack, e in grid:
        s_adv = scores[(attack, float(e))]
        extra = {}
        if attack == "pgd" and ("fgsm", float(e)) in scores:
            s_adv, taken = auroc_selection(y, scores[("fgsm", float(e))], s_adv)
            scores[(attack, float(e))] = s_adv
            extra["pgd_records_taken"] = int(taken.sum())
        rows.append({"attack": attack, "eps": float(e), "auroc": macro_auroc(y, s_adv, classes).value,
                     "accuracy": top1_accuracy(y, s_adv), **extra})
    rows += worst_rows(rows, y, scores)
    for r in rows:
        r.update(norm=norm, eps_unit=eps_unit)
    return rows


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
