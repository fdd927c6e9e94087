"""The attack tables of an evaluation: macro AUROC and top-1 accuracy of a head under FGSM / PGD at each
budget (:func:`adversarial_curve`), and of a zero-shot scorer when SCAR's masker removes its top-rho
tokens next to as many random tokens (:func:`masker_attack_rows`)."""

from __future__ import annotations

from typing import Any, Sequence

from torch import nn

from ecgfoundry.eval.metrics import macro_auroc, top1_accuracy

__all__ = ["adversarial_curve", "masker_attack_rows"]


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
