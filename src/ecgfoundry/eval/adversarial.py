"""Adversarial perturbations of ECGs: FGSM and PGD under L-infinity or L2 budgets.

FGSM: Goodfellow, Shlens & Szegedy (2015), "Explaining and harnessing adversarial examples".
PGD: Madry et al. (2018), "Towards deep learning models resistant to adversarial attacks".

PGD here is never weaker than FGSM, record by record: it starts from a uniformly random point of
the ``eps``-ball, takes ``steps`` (default 10, the least :data:`MIN_PGD_STEPS` the evaluation
accepts) signed-gradient steps of ``2.5 * eps / steps`` with projection, and returns, per record,
the point with the highest attack loss among the FGSM point, the random start and every iterate.
A 3-step PGD without that rule scored a higher AUROC than FGSM in all 42 cells of the
contrastive-robustness study. A higher loss on every record still does not guarantee a lower AUROC,
which ranks records against each other: the attack tables (:func:`ecgfoundry.eval.attack_tables.auroc_selection`)
then keep PGD's point only for the records where it does not raise the macro AUROC reached from FGSM's.

The attacked model is any torch callable ``model(signal, observed) -> logits (N, K)``: a probe head
on a frozen encoder, a zero-shot head (cosines x temperature), a supervised classifier. The loss
is multi-label BCE on the true labels (``loss="bce"``, targets multi-hot ``(N, K)``) or
cross-entropy (``loss="ce"``, targets class indices ``(N,)`` or one-hot ``(N, K)``).

Units of epsilon (``eps_unit``):

``"mV"`` (default)
    ``eps`` is in millivolts, the unit of every signal in ecgfoundry: an L-infinity attack with
    ``eps=0.05`` moves no sample by more than 50 µV.
``"std"``
    ``eps`` is in units of the record's own standard deviation (over its observed samples, all
    leads together): the per-record budget is ``eps * std(x)``. This equals an epsilon on a
    per-record z-scored signal and makes budgets comparable across datasets with different gains.

For L2, the budget bounds the Euclidean norm of the perturbation over the record's whole
``12 x T`` grid, in the same units. Step sizes (``step_size``) are in the same units as ``eps``.

Rules: only observed samples are perturbed (unobserved samples stay exactly 0 and unobserved); the
model is put in eval mode during the attack (its mode is restored afterwards) and its parameter
gradients are never touched; random starts come from a seeded generator (the same seed and batch
size give the same perturbation); records are processed in batches, with losses summed so that a
record's gradient does not depend on the other records in its batch.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as nnf

NORMS = ("linf", "l2")
MIN_PGD_STEPS = 10
"""The fewest PGD steps ``ecgfoundry evaluate`` and the robustness study accept (Madry et al. use
more; fewer steps leave a random start short of the ball's corners)."""
LOSSES = ("bce", "ce")
EPS_UNITS = ("mV", "std")


def _check(norm: str, loss: str, eps_unit: str, eps: float) -> None:
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if eps_unit not in EPS_UNITS:
        raise ValueError(f"eps_unit must be one of {EPS_UNITS}, got {eps_unit!r}")
    if not eps >= 0:
        raise ValueError(f"eps must be >= 0, got {eps}")


def _device(model) -> torch.device:
    params = list(model.parameters()) if hasattr(model, "parameters") else []
    return params[0].device if params else torch.device("cpu")


def record_scale(signal: torch.Tensor, observed: torch.Tensor, eps_unit: str) -> torch.Tensor:
    """Per-record multiplier ``(N, 1, 1)`` turning ``eps`` into signal units (1 for mV)."""
    if eps_unit == "mV":
        return torch.ones(len(signal), 1, 1, dtype=signal.dtype, device=signal.device)
    obs = observed.to(signal.dtype)
    n = obs.sum(dim=(1, 2)).clamp_min(1)
    mean = (signal * obs).sum(dim=(1, 2)) / n
    var = (((signal - mean[:, None, None]) * obs) ** 2).sum(dim=(1, 2)) / n
    return var.sqrt()[:, None, None]


def attack_loss(logits: torch.Tensor, targets: torch.Tensor, loss: str) -> torch.Tensor:
    """Summed (not averaged) loss, so each record's gradient does not depend on the batch size."""
    if loss == "bce":
        return nnf.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype).reshape(logits.shape),
                                                    reduction="sum")
    if targets.ndim == 2:
        targets = targets.argmax(dim=1)
    return nnf.cross_entropy(logits, targets.long(), reduction="sum")


def _l2(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None]


def _step(grad: torch.Tensor, norm: str) -> torch.Tensor:
    return grad.sign() if norm == "linf" else grad / _l2(grad)


def _project(delta: torch.Tensor, eps: torch.Tensor, norm: str) -> torch.Tensor:
    if norm == "linf":
        return torch.maximum(torch.minimum(delta, eps), -eps)
    return delta * torch.clamp(eps / _l2(delta), max=1.0)


def _loss_and_grad(model, x, delta, obs, y, loss):
    """Per-record attack loss ``(B,)`` at ``x + delta`` and its gradient with respect to ``delta``."""
    with torch.enable_grad():  # also when called under torch.no_grad()
        delta = delta.detach().requires_grad_(True)
        per = _per_record(model(x + delta, obs), y, loss)
        grad, = torch.autograd.grad(per.sum(), delta)
    return per.detach(), grad


def _per_record(logits: torch.Tensor, targets: torch.Tensor, loss: str) -> torch.Tensor:
    """:func:`attack_loss` of each record, ``(B,)``; their sum is the batch's attack loss."""
    if loss == "bce":
        t = targets.to(logits.dtype).reshape(logits.shape)
        return nnf.binary_cross_entropy_with_logits(logits, t, reduction="none").flatten(1).sum(dim=1)
    if targets.ndim == 2:
        targets = targets.argmax(dim=1)
    return nnf.cross_entropy(logits, targets.long(), reduction="none")


def _keep(best_delta, best_loss, delta, loss):
    """Per record, ``delta`` where its loss is strictly higher than the best so far."""
    better = loss > best_loss
    return torch.where(better[:, None, None], delta, best_delta), torch.where(better, loss, best_loss)


def _fgsm_delta(model, x, obs, obs_f, y, eps, norm, loss):
    """One step of size ``eps`` from the clean signal along the (signed / normalised) gradient."""
    _, grad = _loss_and_grad(model, x, torch.zeros_like(x), obs, y, loss)
    with torch.no_grad():
        return _project(eps * _step(grad * obs_f, norm) * obs_f, eps, norm) * obs_f


def _random_start(x, obs_f, eps, norm, gen):
    if norm == "linf":
        delta = (torch.rand(x.shape, generator=gen, dtype=x.dtype).to(x.device) * 2 - 1) * eps
    else:  # uniform direction, radius uniform in [0, eps]
        g = torch.randn(x.shape, generator=gen, dtype=x.dtype).to(x.device) * obs_f
        r = torch.rand(len(x), 1, 1, generator=gen, dtype=x.dtype).to(x.device)
        delta = g / _l2(g) * eps * r
    return delta * obs_f


def _attack_batch(model, x, obs, y, eps, norm, loss, steps, alpha, random_start, gen, keep_best):
    obs_f = obs.to(x.dtype)
    x = x * obs_f
    best = _fgsm_delta(model, x, obs, obs_f, y, eps, norm, loss)
    if not keep_best:  # FGSM
        return (x + best) * obs_f
    # PGD: candidates are the FGSM point, the start and every iterate; per record the one with the
    # highest attack loss is returned (ties keep the earlier), so PGD is never weaker than FGSM
    with torch.no_grad():
        best_loss = _per_record(model(x + best, obs), y, loss)
    delta = _random_start(x, obs_f, eps, norm, gen) if random_start else torch.zeros_like(x)
    for _ in range(steps):
        per, grad = _loss_and_grad(model, x, delta, obs, y, loss)
        best, best_loss = _keep(best, best_loss, delta, per)
        with torch.no_grad():
            delta = _project(delta + alpha * _step(grad * obs_f, norm) * obs_f, eps, norm) * obs_f
    with torch.no_grad():
        best, _ = _keep(best, best_loss, delta, _per_record(model(x + delta, obs), y, loss))
    return (x + best) * obs_f


def pgd(model, signal, observed, targets, eps: float, steps: int = 10, step_size: float | None = None,
        random_start: bool = True, seed: int = 0, norm: str = "linf", eps_unit: str = "mV",
        loss: str = "bce", batch_size: int = 256):
    """Projected gradient descent (ascent on the loss) inside an ``eps``-ball, never weaker than FGSM.

    Per record, the returned point is the one with the highest attack loss among the FGSM point
    (:func:`fgsm`), the start and every iterate (``steps + 2`` forward passes and ``steps + 1``
    gradients per batch).

    Parameters
    ----------
    model : torch callable
        ``model(signal (B, 12, T), observed (B, 12, T) bool) -> logits (B, K)``.
    signal : ndarray or Tensor of shape (N, 12, T), mV
    observed : ndarray or Tensor of shape (N, 12, T), bool
    targets : array (N, K) multi-hot for ``"bce"``; (N,) indices or (N, K) one-hot for ``"ce"``
    eps : float
        Budget in ``eps_unit`` (see the module docstring).
    steps : int
    step_size : float, optional
        In ``eps_unit``; default ``2.5 * eps / steps`` (Madry et al.).
    random_start : bool
        Start from a uniform point of the ball (seeded by ``seed``); else from the clean signal.
    norm : {"linf", "l2"}
    eps_unit : {"mV", "std"}
    loss : {"bce", "ce"}
    batch_size : int

    Returns
    -------
    perturbed signal, same type (numpy / torch), shape and dtype as ``signal``; unobserved
    samples are 0.
    """
    _check(norm, loss, eps_unit, eps)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    alpha_rel = 2.5 * eps / steps if step_size is None else float(step_size)
    return _run(model, signal, observed, targets, eps, norm, eps_unit, loss, steps, alpha_rel,
                random_start, seed, batch_size, keep_best=True)


def fgsm(model, signal, observed, targets, eps: float, norm: str = "linf", eps_unit: str = "mV",
         loss: str = "bce", batch_size: int = 256):
    """Fast gradient sign method: one step of size ``eps`` from the clean signal.

    ``x + eps * sign(grad)`` for L-infinity; ``x + eps * grad / ||grad||`` for L2 (the fast gradient
    method). Parameters as in :func:`pgd`.
    """
    _check(norm, loss, eps_unit, eps)
    return _run(model, signal, observed, targets, eps, norm, eps_unit, loss, 0, eps, False, 0, batch_size,
                keep_best=False)


def _run(model, signal, observed, targets, eps, norm, eps_unit, loss, steps, alpha_rel, random_start,
         seed, batch_size, keep_best):
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    is_numpy = not isinstance(signal, torch.Tensor)
    out_device = None if is_numpy else signal.device
    dtype = signal.dtype
    sig = torch.as_tensor(np.asarray(signal, dtype=np.float32) if is_numpy else signal).float()
    obs = torch.as_tensor(np.asarray(observed, dtype=bool) if not isinstance(observed, torch.Tensor) else observed).bool()
    y = torch.as_tensor(np.asarray(targets) if not isinstance(targets, torch.Tensor) else targets)
    if sig.ndim != 3 or obs.shape != sig.shape or len(y) != len(sig):
        raise ValueError(f"signal {tuple(sig.shape)}, observed {tuple(obs.shape)} and targets "
                         f"{tuple(y.shape)} do not match")
    device = _device(model)
    gen = torch.Generator().manual_seed(int(seed))
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    out = []
    try:
        for a in range(0, len(sig), batch_size):
            x = sig[a:a + batch_size].to(device)
            o = obs[a:a + batch_size].to(device)
            scale = record_scale(x, o, eps_unit)
            out.append(_attack_batch(model, x, o, y[a:a + batch_size].to(device), eps * scale, norm, loss,
                                     steps, alpha_rel * scale, random_start, gen, keep_best).cpu())
    finally:
        if was_training and hasattr(model, "train"):
            model.train()
    res = torch.cat(out) if out else sig.clone()
    if is_numpy:
        return res.numpy().astype(dtype, copy=False)
    return res.to(device=out_device, dtype=dtype)
