"""Linear probing of frozen embeddings, with data-scarcity sizes.

A linear layer is trained on frozen embeddings (multi-label BCE, or cross-entropy for multi-class
tasks) with Adam; after every epoch the validation macro AUROC is computed and the weights of the
best epoch are kept; training stops after ``patience`` epochs without improvement. Test numbers
come from that best-validation checkpoint only. :func:`run_probe_sizes` repeats this on 1 %, 10 %
and 100 % of the training split, subsampled by iterative stratification with fixed seeds.

The default batch size is 128, the value of the holistic benchmark of ECG foundation models
(Filice et al., arXiv 2601.21830).

:func:`probe_under_missingness` trains and tests the probe under missingness, as that benchmark
does when missingness is on: the probe is fitted on features of Rand.-masked training records
(epoch chosen on Rand.-masked validation records) and tested on the stress test's masks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as nnf
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ecgfoundry.eval.metrics import Evaluation, evaluate, per_class_auroc
from ecgfoundry.eval.stratify import stratified_subsample


def _targets(y, loss: str, n_classes: int | None = None) -> np.ndarray:
    """Labels as float (N, K): multi-hot for BCE, one-hot for CE (class indices accepted)."""
    y = np.asarray(y)
    if loss == "ce" and y.ndim == 1:
        k = int(y.max()) + 1 if n_classes is None else n_classes
        return np.eye(k, dtype=np.float32)[y.astype(int)]
    if y.ndim == 1:
        y = y[:, None]
    return y.astype(np.float32)


class LinearProbe(BaseEstimator):
    """A linear classifier on frozen embeddings with early stopping on validation macro AUROC.

    Parameters
    ----------
    loss : {"bce", "ce"}
        Multi-label (sigmoid) or multi-class (softmax).
    lr : float
    weight_decay : float
        Adam L2 penalty.
    max_epochs : int
    batch_size : int
        128 by default (Filice et al., arXiv 2601.21830).
    patience : int
        Epochs without a better validation macro AUROC before stopping.
    standardize : bool
        Z-score features with the training mean / std (stored in ``mean_`` / ``scale_``).
    seed : int
        Initialisation and batch order.
    device : str

    Attributes
    ----------
    coef_ : ndarray (K, D)
        Weights on the (standardised) features.
    intercept_ : ndarray (K,)
    mean_, scale_ : ndarray (D,)
    best_epoch_ : int
        1-based epoch whose weights were kept.
    best_score_ : float
        Validation macro AUROC at that epoch.
    history_ : list of dict
        ``epoch``, ``train_loss``, ``val_auroc`` per epoch.
    n_features_in_ : int
    n_classes_ : int
    """

    def __init__(self, loss: str = "bce", lr: float = 1e-3, weight_decay: float = 0.0, max_epochs: int = 200,
                 batch_size: int = 128, patience: int = 10, standardize: bool = True, seed: int = 0,
                 device: str = "cpu"):
        self.loss = loss
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.patience = patience
        self.standardize = standardize
        self.seed = seed
        self.device = device

    def _validate_params(self) -> None:
        if self.loss not in ("bce", "ce"):
            raise ValueError(f"loss must be 'bce' or 'ce', got {self.loss!r}")
        for name in ("max_epochs", "batch_size", "patience"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")

    def fit(self, X, y, X_val, y_val) -> "LinearProbe":
        """Train on ``(X, y)``, select the epoch by macro AUROC on ``(X_val, y_val)``."""
        self._validate_params()
        X = np.asarray(X, dtype=np.float32)
        X_val = np.asarray(X_val, dtype=np.float32)
        if X.ndim != 2 or X_val.ndim != 2 or X.shape[1] != X_val.shape[1]:
            raise ValueError(f"X {X.shape} and X_val {X_val.shape} must be (N, D) with the same D")
        if not (np.all(np.isfinite(X)) and np.all(np.isfinite(X_val))):
            raise ValueError("embeddings contain NaN or inf")
        Y = _targets(y, self.loss)
        Yv = _targets(y_val, self.loss, Y.shape[1])
        if len(Y) != len(X) or len(Yv) != len(X_val) or Yv.shape[1] != Y.shape[1]:
            raise ValueError(f"labels {Y.shape} / {Yv.shape} do not match embeddings {X.shape} / {X_val.shape}")
        if not np.any((Yv.sum(0) > 0) & (Yv.sum(0) < len(Yv))):
            raise ValueError("no class has both positives and negatives in the validation split: "
                             "early stopping on macro AUROC is impossible")
        self.mean_ = X.mean(axis=0) if self.standardize else np.zeros(X.shape[1], np.float32)
        self.scale_ = X.std(axis=0) if self.standardize else np.ones(X.shape[1], np.float32)
        self.scale_ = np.where(self.scale_ > 0, self.scale_, 1.0).astype(np.float32)
        self.n_features_in_, self.n_classes_ = X.shape[1], Y.shape[1]

        gen = torch.Generator().manual_seed(int(self.seed))
        torch_dev = torch.device(self.device)
        layer = torch.nn.Linear(X.shape[1], Y.shape[1])
        with torch.no_grad():  # seeded init (independent of the global torch RNG)
            bound = 1 / np.sqrt(X.shape[1])
            layer.weight.copy_(torch.rand(layer.weight.shape, generator=gen) * 2 * bound - bound)
            layer.bias.zero_()
        layer.to(torch_dev)
        opt = torch.optim.Adam(layer.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        xt = torch.from_numpy(self._standardized(X)).to(torch_dev)
        yt = torch.from_numpy(Y).to(torch_dev)
        xv = torch.from_numpy(self._standardized(X_val)).to(torch_dev)

        best, best_state, best_epoch, waited = -np.inf, None, 0, 0
        self.history_ = []
        for epoch in range(1, self.max_epochs + 1):
            layer.train()
            order = torch.randperm(len(xt), generator=gen).to(torch_dev)
            total = 0.0
            for a in range(0, len(xt), self.batch_size):
                idx = order[a:a + self.batch_size]
                logits = layer(xt[idx])
                if self.loss == "bce":
                    loss = nnf.binary_cross_entropy_with_logits(logits, yt[idx])
                else:
                    loss = nnf.cross_entropy(logits, yt[idx].argmax(dim=1))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            layer.eval()
            with torch.no_grad():
                score = float(np.nanmean(per_class_auroc(Yv, layer(xv).cpu().numpy())))
            self.history_.append({"epoch": epoch, "train_loss": total / len(xt), "val_auroc": score})
            if score > best:
                best, best_epoch, waited = score, epoch, 0
                best_state = (layer.weight.detach().cpu().numpy().copy(), layer.bias.detach().cpu().numpy().copy())
            else:
                waited += 1
                if waited >= self.patience:
                    break
        self.coef_, self.intercept_ = best_state
        self.best_epoch_, self.best_score_ = best_epoch, best
        return self

    def _standardized(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.mean_) / self.scale_).astype(np.float32)

    def decision_function(self, X) -> np.ndarray:
        """Logits ``(N, K)`` of the best-validation checkpoint."""
        check_is_fitted(self, ("coef_", "intercept_"))
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"X must be (N, {self.n_features_in_}), got {X.shape}")
        return self._standardized(X) @ self.coef_.T + self.intercept_

    def predict_proba(self, X) -> np.ndarray:
        """Sigmoid (BCE) or softmax (CE) probabilities ``(N, K)``."""
        z = torch.from_numpy(self.decision_function(X).astype(np.float32))
        return (torch.sigmoid(z) if self.loss == "bce" else torch.softmax(z, dim=1)).numpy()


@dataclass
class ProbeRun:
    """One probe trained on one training-split size with one seed.

    Attributes
    ----------
    fraction : float
    seed : int
    indices : ndarray
        Rows of the training split that were used.
    probe : LinearProbe
    evaluation : Evaluation
        Test metrics of the best-validation checkpoint (F1 thresholds from validation).
    """

    fraction: float
    seed: int
    indices: np.ndarray
    probe: LinearProbe
    evaluation: Evaluation


def run_probe_sizes(X_train, y_train, X_val, y_val, X_test, y_test, classes: Sequence[str] | None = None,
                    fractions: Sequence[float] = (0.01, 0.1, 1.0), seeds: Sequence[int] = (0,),
                    n_boot: int = 1000, **probe_params) -> list[ProbeRun]:
    """Linear probes on stratified fractions of the training split; test metrics of each.

    The same ``seed`` fixes the subsample, the probe initialisation / batch order and the bootstrap.
    """
    runs = []
    loss = probe_params.get("loss", "bce")
    Yt = _targets(y_train, loss)
    k = Yt.shape[1]
    for fraction in fractions:
        for seed in seeds:
            idx = stratified_subsample(Yt, fraction, seed=seed)
            probe = LinearProbe(**{**probe_params, "seed": seed}).fit(
                np.asarray(X_train)[idx], Yt[idx], X_val, _targets(y_val, loss, k))
            ev = evaluate(_targets(y_test, loss, k), probe.predict_proba(X_test),
                          _targets(y_val, loss, k), probe.predict_proba(X_val), classes, n_boot=n_boot, seed=seed)
            runs.append(ProbeRun(fraction, seed, idx, probe, ev))
    return runs


def probe_table(runs: Sequence[ProbeRun]) -> pd.DataFrame:
    """One row per run: fraction, seed, n_train, best epoch, validation and test macro metrics with CIs."""
    rows = []
    for r in runs:
        row = {"fraction": r.fraction, "seed": r.seed, "n_train": len(r.indices), "best_epoch": r.probe.best_epoch_,
               "val_auroc": r.probe.best_score_}
        for key, value in r.evaluation.macro.items():
            row[f"test_{key}"] = value
            if key in r.evaluation.ci:
                row[f"test_{key}_low"], row[f"test_{key}_high"] = r.evaluation.ci[key]
        rows.append(row)
    return pd.DataFrame(rows)


PROBE_MASK_STREAM = 100
"""Second-to-last seed word of the generators of the probe's training / validation masks
(:func:`probe_mask_rng`): no stress-test generator uses it, so the probe never trains on the masks
it is tested on."""


def probe_mask_rng(seed: int, kind: str, split: str) -> np.random.Generator:
    """The generator of the Rand. masks the probe is trained (``split="train"``) or selected
    (``"val"``) under: seeded by ``(seed, kind, PROBE_MASK_STREAM, split)``."""
    from ecgfoundry.eval.missingness import KINDS

    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    return np.random.default_rng([int(seed), KINDS.index(kind), PROBE_MASK_STREAM, ("train", "val").index(split)])


def probe_under_missingness(features: Callable[[np.ndarray, np.ndarray], np.ndarray], train, val, test,
                            classes: Sequence[str] | None, kinds: Sequence[str],
                            test_masks: Callable[[str, str], np.ndarray], modes: Sequence[str] = ("rand",),
                            seed: int = 0, n_boot: int = 1000, clean_probe: "LinearProbe | None" = None,
                            **probe_params) -> list[dict[str, Any]]:
    """A linear probe trained and tested under missingness, one row per kind x test mode.

    For each ``kind``, the probe (100 % of the training split) is fitted on the features of the
    training records under Rand. masks of that kind, its epoch chosen on validation records under
    other Rand. masks of that kind (both from :func:`probe_mask_rng`, drawn with
    :func:`ecgfoundry.eval.missingness.sample_masks`), and tested on the test records under
    ``test_masks(kind, mode)`` for every mode (the stress test's masks, Rand. and Hard). F1
    thresholds come from the masked validation scores.

    Parameters
    ----------
    features : callable
        ``features(signal (N, 12, T), observed (N, 12, T)) -> (N, D)`` frozen embeddings.
    train, val, test : tuples ``(signal, observed, labels)``
        Signals float32 mV ``(N, 12, T)``, observed bool, labels ``(N, K)``.
    classes : sequence of str
    kinds : subset of ("lead", "temporal", "joint")
    test_masks : callable
        ``test_masks(kind, mode) -> (N_test, 12, T)`` bool, True = remove.
    modes : sequence of str
        The test-mask modes (``"rand"``, ``"hard"``).
    seed : int
        Masks of the training / validation records, probe initialisation and batch order, bootstrap.
    n_boot : int
    clean_probe : LinearProbe, optional
        A probe fitted on clean features; its macro AUROC on the same masked test features is
        reported beside (``clean_probe_test_auroc``), so a reader sees what training under
        missingness changed.
    **probe_params
        Passed to :class:`LinearProbe`.

    Returns
    -------
    list of dict
        ``kind``, ``mode``, ``train_masks`` (``"rand"``), ``fraction`` (1.0), ``seed``, ``n_train``,
        ``best_epoch``, ``val_auroc`` (masked validation), ``severity`` (mean over the test masks),
        ``test_<metric>`` with ``test_<metric>_low`` / ``_high`` as in :func:`probe_table`, and
        ``clean_probe_test_auroc`` when ``clean_probe`` is given.
    """
    from ecgfoundry.eval.metrics import macro_auroc
    from ecgfoundry.eval.missingness import KINDS, apply_mask, sample_masks, severity

    for k in kinds:
        if k not in KINDS:
            raise ValueError(f"unknown missingness type {k!r}; choose from {', '.join(KINDS)}")
    loss = probe_params.get("loss", "bce")
    parts = {}
    for name, part in (("train", train), ("val", val), ("test", test)):
        sig, obs, y = part
        sig, obs = np.asarray(sig, dtype=np.float32), np.asarray(obs, dtype=bool)
        if sig.ndim != 3 or obs.shape != sig.shape or len(y) != len(sig):
            raise ValueError(f"{name}: signal {sig.shape}, observed {obs.shape} and labels {np.shape(y)} do not match")
        parts[name] = (sig, obs, y)
    k_classes = _targets(parts["train"][2], loss).shape[1]
    y_tr, y_va, y_te = (_targets(parts[n][2], loss, k_classes) for n in ("train", "val", "test"))
    rows = []
    for kind in kinds:
        masked = {}
        for split in ("train", "val"):
            sig, obs, _ = parts[split]
            remove = sample_masks(kind, len(sig), sig.shape[-1], probe_mask_rng(seed, kind, split))
            masked[split] = np.asarray(features(*apply_mask(sig, obs, remove)))
        probe = LinearProbe(**{**probe_params, "seed": seed}).fit(masked["train"], y_tr, masked["val"], y_va)
        p_val = probe.predict_proba(masked["val"])
        for mode in modes:
            sig, obs, _ = parts["test"]
            remove = np.asarray(test_masks(kind, mode), dtype=bool)
            if remove.shape != sig.shape:
                raise ValueError(f"test_masks({kind!r}, {mode!r}) has shape {remove.shape}, the test signals {sig.shape}")
            x_test = np.asarray(features(*apply_mask(sig, obs, remove)))
            ev = evaluate(y_te, probe.predict_proba(x_test), y_va, p_val, classes, n_boot=n_boot, seed=seed)
            row: dict[str, Any] = {"kind": kind, "mode": mode, "train_masks": "rand", "fraction": 1.0, "seed": seed,
                                   "n_train": len(y_tr), "best_epoch": probe.best_epoch_,
                                   "val_auroc": probe.best_score_, "severity": float(severity(remove).mean())}
            for key, value in ev.macro.items():
                row[f"test_{key}"] = value
                if key in ev.ci:
                    row[f"test_{key}_low"], row[f"test_{key}_high"] = ev.ci[key]
            if clean_probe is not None:
                row["clean_probe_test_auroc"] = macro_auroc(y_te, clean_probe.decision_function(x_test), classes).value
            rows.append(row)
    return rows
