"""The reference classifier F of the missingness stress test and CMRS.

F is a **full-view supervised** classifier: a 1-D ResNet encoder (:mod:`ecgfoundry.models.resnet1d`,
any registered ``resnet1d`` encoder, ResNet-18 by default) with a linear head, trained with
multi-label BCE and AdamW on the training split, with early stopping on the validation macro AUROC
(the weights of the best validation epoch are kept). Training is seeded: the same data, config and
seed give the same weights on the same device.

F is used (i) to pick **hard** masks (:func:`ecgfoundry.eval.missingness.hard_masks`) and (ii) as the
semantic yardstick of CMRS (:mod:`ecgfoundry.eval.cmrs`): ``p0 = F(x)``, ``p_o = F(x^m)``.

A reference folder holds::

    reference.json      format, ReferenceConfig, encoder config, classes, label set, dataset,
                        fs and samples per record, best epoch, validation AUROC, training history
    model.safetensors   weights (``encoder.*`` and ``head.*``)

A user-supplied reference is a folder in the same format (any encoder config that
:func:`ecgfoundry.models.build.build_encoder` accepts); :func:`load_reference` checks it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as nnf
from torch import nn

from ecgfoundry.errors import EcgDataError
from ecgfoundry.models.config import EncoderConfig, _ConfigBase, _number, _positive_int

REFERENCE_FORMAT = "ecgfoundry-reference/1"


@dataclass(frozen=True)
class ReferenceConfig(_ConfigBase):
    """How the reference classifier is built and trained."""

    encoder: str = "resnet18"      # registered resnet1d encoder (its fs is set to the data's)
    epochs: int = 30               # maximum epochs
    batch_size: int = 64
    lr: float = 1e-3               # AdamW learning rate
    weight_decay: float = 1e-2     # AdamW decoupled weight decay
    patience: int = 5              # epochs without a better validation macro AUROC before stopping
    seed: int = 0                  # initialisation and batch order

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "patience"):
            _positive_int(name, getattr(self, name))
        _number("lr", self.lr, lo=0, lo_open=True)
        _number("weight_decay", self.weight_decay, lo=0)


class ReferenceClassifier(nn.Module):
    """``forward(signal (N, 12, T), observed (N, 12, T)) -> logits (N, K)``: encoder pooled
    features followed by a linear layer.

    Parameters
    ----------
    encoder_cfg : EncoderConfig
    classes : sequence of str
        Output order of the K logits.
    """

    def __init__(self, encoder_cfg: EncoderConfig, classes: Sequence[str]):
        super().__init__()
        from ecgfoundry.models.build import build_encoder

        if not classes:
            raise ValueError("the reference needs at least one class")
        self.encoder_cfg = encoder_cfg
        self.classes = tuple(classes)
        self.encoder = build_encoder(encoder_cfg)
        self.head = nn.Linear(int(self.encoder.dim), len(self.classes))

    def forward(self, signal: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(signal, observed.to(torch.bool)).pooled)


@dataclass
class Reference:
    """A loaded (or freshly trained) reference classifier and what it was trained on.

    Attributes
    ----------
    model : ReferenceClassifier
    classes : tuple of str
    fs : float
        Hz of the data it was trained on (inputs must match).
    n_samples : int
        Samples per lead of the training records.
    info : dict
        The rest of ``reference.json`` (dataset, label set, history, ...).
    path : Path or None
        Folder it was saved to / loaded from.
    """

    model: ReferenceClassifier
    classes: tuple[str, ...]
    fs: float
    n_samples: int
    info: dict
    path: Path | None = None

    def probability_fn(self, batch_size: int = 256):
        """``F(signal, observed) -> (N, K)`` sigmoid probabilities, batched numpy."""
        from ecgfoundry.eval.predict import probability_fn

        return probability_fn(self.model, "sigmoid", batch_size=batch_size)


def _macro_auroc(y: np.ndarray, p: np.ndarray) -> float:
    from ecgfoundry.eval.metrics import per_class_auroc

    vals = per_class_auroc(y, p)
    return float(np.nanmean(vals)) if np.any(~np.isnan(vals)) else float("nan")


def _logits(model: nn.Module, signal: np.ndarray, observed: np.ndarray, device, batch_size: int) -> np.ndarray:
    out = []
    model.eval()
    with torch.no_grad():
        for a in range(0, len(signal), batch_size):
            x = torch.as_tensor(np.asarray(signal[a:a + batch_size], dtype=np.float32), device=device)
            o = torch.as_tensor(np.asarray(observed[a:a + batch_size], dtype=bool), device=device)
            out.append(model(x, o).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def train_reference(store, label_set: str | None = None, cfg: ReferenceConfig = ReferenceConfig(),
                    out: str | Path | None = None, device: str | None = None, progress: bool = True,
                    encoder_overrides: dict | None = None) -> Reference:
    """Train F on the training split of ``store``; early stopping on validation macro AUROC.

    Parameters
    ----------
    store : ArrayStore
        With ``train`` and ``val`` splits (:meth:`ArrayStore.split_indices`).
    label_set : str, optional
        Default: the store's default label set.
    cfg : ReferenceConfig
    out : str or Path, optional
        Save the best-validation weights there (see :func:`save_reference`).
    device : str, optional
        Default: CUDA when available, else CPU.
    encoder_overrides : dict, optional
        Encoder config fields to replace (``fs`` is always set to the store's rate).
    """
    from ecgfoundry.models.registry import get_encoder_config
    from ecgfoundry.progress import track

    y_all, classes = store.labels(label_set)
    tr, va = store.split_indices("train"), store.split_indices("val")
    if len(tr) == 0 or len(va) == 0:
        raise EcgDataError(store.path, "split", f"the reference needs train and val records "
                           f"(found {len(tr)} train, {len(va)} val)")
    enc_cfg = get_encoder_config(cfg.encoder, **{**(encoder_overrides or {}), "fs": float(store.fs)})
    if enc_cfg.kind != "resnet1d":
        raise ValueError(f"the reference is a 1-D ResNet; encoder {cfg.encoder!r} is a {enc_cfg.kind}")
    train, val = store.batch(tr, label_set), store.batch(va, label_set)
    y_val = val.labels.astype(np.float32)
    if not np.any((y_val.sum(0) > 0) & (y_val.sum(0) < len(y_val))):
        raise EcgDataError(store.path, "val", "no class has both positives and negatives in the validation "
                           "split: early stopping on macro AUROC is impossible")
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = ReferenceClassifier(enc_cfg, classes).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    sig = torch.from_numpy(np.ascontiguousarray(train.signal))
    obs = torch.from_numpy(np.ascontiguousarray(train.observed))
    yt = torch.from_numpy(train.labels.astype(np.float32))
    best, best_state, best_epoch, waited, history = -np.inf, None, 0, 0, []
    start = time.perf_counter()
    for epoch in track(range(1, cfg.epochs + 1), "training reference", enabled=progress):
        model.train()
        order = torch.randperm(len(sig), generator=gen)
        total = 0.0
        for a in range(0, len(order), cfg.batch_size):
            idx = order[a:a + cfg.batch_size]
            if len(idx) < 2 and len(order) > 1:  # BatchNorm cannot train on one record
                continue
            logits = model(sig[idx].to(dev), obs[idx].to(dev))
            loss = nnf.binary_cross_entropy_with_logits(logits, yt[idx].to(dev))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        score = _macro_auroc(y_val, _logits(model, val.signal, val.observed, dev, 4 * cfg.batch_size))
        history.append({"epoch": epoch, "train_loss": total / len(sig), "val_auroc": score})
        if score > best:
            best, best_epoch, waited = score, epoch, 0
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
            if waited >= cfg.patience:
                break
    model.load_state_dict(best_state)
    model.cpu().eval()
    info = {"dataset": store.name, "label_set": label_set or store.info.get("default_label_set"),
            "config": cfg.to_dict(), "best_epoch": best_epoch, "val_auroc": best, "history": history,
            "n_train": int(len(tr)), "n_val": int(len(va)), "seconds": round(time.perf_counter() - start, 2)}
    ref = Reference(model, tuple(classes), float(store.fs), int(store.signal.shape[-1]), info)
    if out is not None:
        save_reference(out, ref)
    return ref


def save_reference(folder: str | Path, ref: Reference) -> Path:
    """Write ``reference.json`` + ``model.safetensors`` atomically (``folder.partial`` renamed)."""
    from safetensors.torch import save_file

    from ecgfoundry import __version__

    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    save_file({k: v.detach().cpu().contiguous().clone() for k, v in ref.model.state_dict().items()},
              str(tmp / "model.safetensors"))
    meta = {"format": REFERENCE_FORMAT, "encoder": ref.model.encoder_cfg.to_dict(), "classes": list(ref.classes),
            "fs": ref.fs, "n_samples": ref.n_samples, "ecgfoundry": __version__, **ref.info}
    (tmp / "reference.json").write_text(json.dumps(meta, indent=2))
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(tmp, folder)
    ref.path = folder
    return folder


def load_reference(path: str | Path, map_location: str = "cpu") -> Reference:
    """Load a reference folder written by :func:`save_reference` (or by hand in that format)."""
    from safetensors.torch import load_file

    folder = Path(path)
    meta_path = folder / "reference.json"
    if not meta_path.exists():
        raise EcgDataError(folder, None, "not a reference classifier (no reference.json); "
                           "train one with `ecgfoundry reference train`")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise EcgDataError(meta_path, None, f"corrupt JSON ({exc})") from None
    if meta.get("format") != REFERENCE_FORMAT:
        raise EcgDataError(meta_path, "format", f"expected {REFERENCE_FORMAT!r}, got {meta.get('format')!r}")
    for key in ("encoder", "classes", "fs", "n_samples"):
        if key not in meta:
            raise EcgDataError(meta_path, key, "missing")
    model = ReferenceClassifier(EncoderConfig.from_dict(meta["encoder"]), meta["classes"])
    try:
        weights = load_file(str(folder / "model.safetensors"), device=map_location)
    except Exception as exc:  # safetensors raises its own error types
        raise EcgDataError(folder / "model.safetensors", None, f"unreadable weights ({exc})") from None
    try:
        missing, unexpected = model.load_state_dict(weights, strict=False)
    except RuntimeError as exc:  # shape mismatches
        raise EcgDataError(folder / "model.safetensors", None,
                           f"weights do not match reference.json ({str(exc).splitlines()[-1].strip()})") from None
    if missing or unexpected:
        raise EcgDataError(folder / "model.safetensors", None,
                           f"weights do not match reference.json (missing {missing[:5]}, unexpected {unexpected[:5]})")
    model.eval()
    info = {k: v for k, v in meta.items() if k not in ("format", "encoder", "classes", "fs", "n_samples")}
    return Reference(model, tuple(meta["classes"]), float(meta["fs"]), int(meta["n_samples"]), info, folder)


def check_reference(ref: Reference, classes: Sequence[str], fs: float, where: str | Path = "") -> None:
    """Raise when the reference does not fit the evaluated label set or sampling rate."""
    if tuple(classes) != ref.classes:
        raise EcgDataError(ref.path or where, "classes", f"the reference predicts {list(ref.classes)}, the label set "
                           f"has {list(classes)}: train a reference on this label set")
    if abs(float(fs) - ref.fs) > 1e-6:
        raise EcgDataError(ref.path or where, "fs", f"the reference was trained at {ref.fs:g} Hz, the data is at "
                           f"{float(fs):g} Hz")
