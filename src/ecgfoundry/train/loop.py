"""The pretraining loop: AdamW + warm-up/cosine, gradient clipping, CUDA mixed precision, the SCAR
min-max alternation, a live progress bar, a CSV metrics log, checkpoints, resume, and DDP under
``torchrun`` (gradients averaged across ranks, InfoNCE gathered across ranks with gradient)."""

from __future__ import annotations

import contextlib
import csv
import math
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecgfoundry.checkpoint import load_state, resolve_checkpoint, save_checkpoint
from ecgfoundry.errors import TrainingDiverged, TrainingInterrupted
from ecgfoundry.io.store import ArrayStore
from ecgfoundry.models.augment import MissingnessAugment
from ecgfoundry.models.config import ModelConfig
from ecgfoundry.models.registry import create_model
from ecgfoundry.train.config import TrainConfig
from ecgfoundry.train.data import PretrainData
from ecgfoundry.train.distributed import (DistInfo, all_ranks_agree, average_gradients, broadcast_module,
                                          cleanup, init_distributed, pick_device)
from ecgfoundry.train.interface import training_hooks

METRIC_FIELDS = ("step", "epoch_frac", "lr", "loss", "align", "unimodal", "consistency", "budget",
                 "mask_rate", "masker_loss", "logit_scale", "contrastive", "clinical", "byol",
                 "samples_per_s", "elapsed_s")


def default_text_cache() -> str:
    from ecgfoundry.cache import text_embeddings_dir

    return str(text_embeddings_dir())


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up to 1, then cosine decay to ``min_lr_ratio`` at ``cfg.steps``."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def _param_groups(params: list[torch.nn.Parameter], weight_decay: float) -> list[dict[str, Any]]:
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]  # biases, norms, temperature
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _amp_dtype(cfg: TrainConfig, device: torch.device) -> torch.dtype | None:
    if device.type != "cuda" or cfg.amp == "off":
        return None
    if cfg.amp == "fp16":
        return torch.float16
    if cfg.amp == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def _with_text_cache(cfg: ModelConfig) -> ModelConfig:
    t = cfg.text
    if t.kind == "transformers" and t.mode == "frozen" and t.cache_dir is None:
        return cfg.replace(text=t.replace(cache_dir=default_text_cache()))
    return cfg


def truncate_metrics(path: Path, last_step: int) -> int:
    """Drop the rows of a metrics CSV past ``last_step`` (the step a run resumes from; 0 for a
    fresh start), so a resumed or restarted run never logs a step twice. Returns rows dropped."""
    if not path.exists():
        return 0
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    keep = [r for r in rows if r.get("step", "").strip().isdigit() and int(r["step"]) <= last_step]
    if len(keep) == len(rows):
        return 0
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=METRIC_FIELDS, extrasaction="ignore")
        w.writeheader()
        w.writerows(keep)
    os.replace(tmp, path)
    return len(rows) - len(keep)


class _StopSignals:
    """SIGINT / SIGTERM set a flag that the loop reads after each step (it then saves a checkpoint
    and stops); a second signal while saving is ignored, so the checkpoint is written whole. Only
    installed in the main thread (signal handlers cannot be set elsewhere)."""

    def __init__(self):
        self.received: str | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> "_StopSignals":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.received = signal.Signals(signum).name

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


class _Log:
    """CSV metrics log (main rank only), appended to on resume (rows past the resumed step are
    dropped first by :func:`truncate_metrics`)."""

    def __init__(self, path: Path, enabled: bool):
        self.enabled = enabled
        if not enabled:
            return
        new = not path.exists()
        self.fh = path.open("a", newline="")
        self.writer = csv.DictWriter(self.fh, fieldnames=METRIC_FIELDS, extrasaction="ignore")
        if new:
            self.writer.writeheader()

    def write(self, row: dict[str, Any]) -> None:
        if self.enabled:
            self.writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
            self.fh.flush()

    def close(self) -> None:
        if self.enabled:
            self.fh.close()


def pretrain(model_cfg: ModelConfig, train_cfg: TrainConfig, store: ArrayStore, out: str | Path,
             resume: bool = False, progress: bool = True, text_encoder=None,
             stop_at: int | None = None) -> dict[str, Any]:
    """Pretrain an ECG–text model on the reports of ``store`` and write checkpoints under ``out``.

    ``stop_at`` ends this call after that step (with a checkpoint) while the learning-rate schedule
    still spans ``train_cfg.steps``: a run stopped early is the same run, and ``resume=True``
    continues it. Returns a summary dict (steps, final losses, wall time, samples/s, checkpoint path;
    ``stopped_early`` when ``stop_at`` ended it).
    Under ``torchrun`` every process calls this; rank 0 writes the log and checkpoints.
    """
    out = Path(out)
    device = pick_device(train_cfg.device)
    info = init_distributed(device)
    if stop_at is not None and (not isinstance(stop_at, int) or isinstance(stop_at, bool) or stop_at < 1):
        raise ValueError(f"stop_at must be an integer >= 1, got {stop_at!r}")
    try:
        return _pretrain(model_cfg, train_cfg, store, out, resume, progress, text_encoder, device, info,
                         stop_at)
    finally:
        cleanup(info)


def _pretrain(model_cfg, train_cfg, store, out, resume, progress, text_encoder, device, info: DistInfo,
              stop_at: int | None = None):
    cfg = train_cfg
    end = cfg.steps if stop_at is None else min(stop_at, cfg.steps)
    ckpt_root = out / "checkpoints"
    if info.is_main:
        ckpt_root.mkdir(parents=True, exist_ok=True)
    existing = (ckpt_root / "latest").exists()
    if existing and not resume:
        raise FileExistsError(f"{out} already holds a run (pass --resume to continue it, or choose another --out)")
    model_cfg = _with_text_cache(model_cfg)
    if abs(store.fs - model_cfg.encoder.fs) > 1e-6:
        raise ValueError(f"{store.path}: data is at {store.fs:g} Hz but the encoder expects "
                         f"{model_cfg.encoder.fs:g} Hz (encoder.fs): cache the data with --fs {model_cfg.encoder.fs:g}")
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    model = create_model(model_cfg, text_encoder=text_encoder, gather_with_grad=True).to(device)
    hooks = training_hooks(model)  # the declared interface (train/interface.py), read once
    broadcast_module(model, info)
    opt = torch.optim.AdamW(_param_groups(model.model_parameters(), cfg.weight_decay), lr=cfg.lr,
                            betas=(0.9, 0.98), eps=1e-6)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg))
    mopt = (torch.optim.AdamW(model.masker_parameters(), lr=cfg.masker_lr, weight_decay=0.0)
            if model.has_adversary else None)
    # The masker's schedule: constant (the earlier default), or the model's warm-up + cosine, so the
    # adversary does not keep its full learning rate while the encoder's decays 100x.
    msched = (torch.optim.lr_scheduler.LambdaLR(mopt, lambda s: lr_factor(s, cfg))
              if mopt is not None and cfg.masker_lr_schedule == "cosine" else None)
    amp_dtype = _amp_dtype(cfg, device)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype is torch.float16)
    # ECG-only SSL models draw their own independent views; a shared missingness pattern on both
    # views would be a shortcut for matching them.
    aug = None if hooks.own_augmentation else MissingnessAugment(cfg.lead_drop_p, cfg.span_min, cfg.span_max)
    gen = torch.Generator(device=device).manual_seed(cfg.seed * 1000 + info.rank)
    data = PretrainData(store, cfg.split, cfg.seed, require_text=hooks.needs_text, meta_columns=hooks.meta_columns)
    step, batches_seen = 0, 0
    if existing:
        folder = resolve_checkpoint(out)
        from ecgfoundry.checkpoint import load_model

        loaded = load_model(folder, map_location="cpu", text_encoder=model.text_encoder)
        model.load_state_dict(loaded.state_dict())
        state = load_state(folder)
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        for group, base in zip(opt.param_groups, sched.base_lrs):  # --steps may have changed: re-derive
            group["lr"] = base * lr_factor(sched.last_epoch, cfg)
        if mopt is not None and "mopt" in state:
            mopt.load_state_dict(state["mopt"])
        if msched is not None and "msched" in state:
            msched.load_state_dict(state["msched"])
        step, batches_seen = int(state["step"]), int(state["batches_seen"])
        if info.rank == 0 and "gen_state" in state:  # exact continuation of rank 0's random streams
            gen.set_state(state["gen_state"].to(gen.get_state().device))
            torch.set_rng_state(state["torch_rng"])
        else:  # other ranks: a fresh stream that depends on the step
            gen.manual_seed(cfg.seed * 1000 + info.rank + 7919 * step)
        if step >= end:
            return {"steps": step, "note": "already finished" if step >= cfg.steps else f"already at step {step}",
                    "checkpoint": str(folder)}

    if info.is_main:
        (out / "model.json").write_text(model_cfg.to_json())
        (out / "train.json").write_text(cfg.to_json())
        for note in data.notes:
            print(f"note: {note}")
        truncate_metrics(out / "metrics.csv", step)
    _warm_text_cache(model, data, info, progress)
    stream = data.batches(cfg.batch_size, info.rank, info.world_size, batches_seen, device)
    log = _Log(out / "metrics.csv", info.is_main)
    autocast = (lambda: torch.autocast("cuda", dtype=amp_dtype)) if amp_dtype else contextlib.nullcontext
    last_good = str(resolve_checkpoint(out)) if existing else None
    model.train()
    start, last_t, last_step = time.perf_counter(), time.perf_counter(), step
    parts: dict[str, float] = {}
    bar = _Bar(end, step, enabled=progress and info.is_main)

    def one_update(side: str, sides: list[tuple[Any, list, float, bool]]) -> dict[str, torch.Tensor]:
        """One forward and backward pass on the next (augmented) batch, then a step of each optimiser in
        ``sides`` (optimizer, params, clip norm, whether it steps now): one side of the alternating
        min-max game, or both sides at once (``side="joint"``)."""
        b = next(stream)
        x, m = aug(b.signal, b.observed, gen) if aug is not None else (b.signal, b.observed)
        extra = hooks.extra(b.meta)
        with autocast():
            losses = model.forward_losses(x, m, b.texts, side, gen, **extra)
        loss = losses["loss"]
        if not all_ranks_agree(bool(torch.isfinite(loss)), info, device):
            raise TrainingDiverged(_diverged_msg(step, side, losses, last_good))
        for optimizer, _, _, _ in sides:
            optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        for optimizer, params, clip, steps_now in sides:
            if not steps_now:
                optimizer.zero_grad(set_to_none=True)
                continue
            average_gradients(params, info)
            if clip > 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params, clip)
            scaler.step(optimizer)
        scaler.update()
        return losses

    one_pass = cfg.minmax == "one_pass"
    stop = _StopSignals()
    try:
        with stop:
            while step < end:
                # --- masker side of the min-max game
                masker_loss = float("nan")
                model_side = (opt, model.model_parameters(), cfg.grad_clip, True)
                if mopt is not None and one_pass:  # --- both sides from one pass
                    masker_now = step % cfg.model_steps_per_masker == 0
                    losses = one_update("joint", [model_side, (mopt, model.masker_parameters(), 0.0, masker_now)])
                    masker_loss = float(losses.pop("masker_loss"))
                else:
                    if mopt is not None and step % cfg.model_steps_per_masker == 0:  # --- masker side
                        for _ in range(cfg.masker_steps):
                            losses = one_update("masker", [(mopt, model.masker_parameters(), 0.0, True)])
                            batches_seen += 1
                            masker_loss = float(losses["loss"].detach())
                        opt.zero_grad(set_to_none=True)  # the masker step leaves no gradient on the model side
                    losses = one_update("model", [model_side])  # --- model side
                batches_seen += 1
                sched.step()
                if msched is not None:
                    msched.step()
                step += 1
                if hooks.after_step is not None:  # momentum targets, MoCo's queue (SSL models)
                    hooks.after_step(step, cfg.steps)
                parts = {k: float(v.detach()) for k, v in losses.items() if v.ndim == 0}
                parts["masker_loss"] = masker_loss
                bar.update(step, parts)
                if step % cfg.log_every == 0 or step == end:
                    now = time.perf_counter()
                    rate = (step - last_step) * cfg.batch_size * info.world_size / max(now - last_t, 1e-9)
                    last_t, last_step = now, step
                    log.write({"step": step, "epoch_frac": batches_seen * cfg.batch_size * info.world_size / len(data),
                               "lr": sched.get_last_lr()[0], "samples_per_s": rate,
                               "elapsed_s": now - start, **parts})
                stopping = not all_ranks_agree(stop.received is None, info, device)
                if step % cfg.checkpoint_every == 0 or step == end or stopping:
                    last_good = _checkpoint(out, model, cfg, opt, sched, mopt, step, batches_seen, info, gen, msched)
                if stopping and step < cfg.steps:
                    if step % cfg.log_every:  # the row of the step the run stopped at
                        log.write({"step": step, "epoch_frac": batches_seen * cfg.batch_size * info.world_size
                                   / len(data), "lr": sched.get_last_lr()[0],
                                   "elapsed_s": time.perf_counter() - start, **parts})
                    raise TrainingInterrupted(f"{stop.received or 'a signal'} at step {step} of {cfg.steps}: "
                                              f"checkpoint saved to {last_good}", step, last_good)
    finally:
        bar.close()
        log.close()
    wall = time.perf_counter() - start
    return {"steps": step, "wall_s": wall, "checkpoint": last_good, "final": parts,
            "stopped_early": step < cfg.steps,
            "samples_per_s": step * cfg.batch_size * info.world_size / max(wall, 1e-9),
            "world_size": info.world_size, "device": str(device)}


def _diverged_msg(step: int, side: str, losses: dict[str, torch.Tensor], last_good: str | None) -> str:
    parts = ", ".join(f"{k}={float(v.detach()):.4g}" for k, v in losses.items() if v.ndim == 0)
    keep = f"the last good checkpoint is {last_good}" if last_good else "no checkpoint was written yet"
    return (f"non-finite {side} loss at step {step + 1} ({parts}); training stopped and {keep}. "
            f"Try a lower --lr or --amp off")


def _checkpoint(out: Path, model, cfg: TrainConfig, opt, sched, mopt, step: int, batches_seen: int,
                info: DistInfo, gen: torch.Generator, msched=None) -> str:
    folder = out / "checkpoints" / f"step_{step:07d}"
    broadcast_module(model, info)  # ranks agree on BatchNorm statistics before saving
    if info.is_main:
        state = {"opt": opt.state_dict(), "sched": sched.state_dict(), "step": step,
                 "batches_seen": batches_seen, "gen_state": gen.get_state().cpu(),
                 "torch_rng": torch.get_rng_state()}
        if mopt is not None:
            state["mopt"] = mopt.state_dict()
        if msched is not None:
            state["msched"] = msched.state_dict()
        save_checkpoint(folder, model, cfg, state, step)
        tmp = out / "checkpoints" / "latest.tmp"
        tmp.write_text(folder.name)
        os.replace(tmp, out / "checkpoints" / "latest")
    if info.enabled:
        torch.distributed.barrier()
    return str(folder)


def _warm_text_cache(model, data: PretrainData, info: DistInfo, progress: bool) -> None:
    """Frozen text encoders: embed every distinct report once up front (rank 0 first, then the
    others read the shared disk cache)."""
    text = model.text_encoder
    if not getattr(text, "frozen", False) or not hasattr(text, "cache"):
        return
    from ecgfoundry.progress import track

    texts = data.unique_texts()
    chunks = [texts[a:a + 256] for a in range(0, len(texts), 256)]
    if info.is_main:
        for chunk in track(chunks, f"embedding {len(texts):,} distinct reports", enabled=progress):
            text.encode(chunk)
    if info.enabled:
        torch.distributed.barrier()
        if not info.is_main:
            for chunk in chunks:
                text.encode(chunk)


class _Bar:
    """A rich progress bar with the live losses in its description."""

    def __init__(self, total: int, done: int, enabled: bool):
        self.enabled = enabled
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self.progress = Progress(TextColumn("pretraining"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[losses]}"),
                                 console=Console(stderr=True))
        self.progress.start()
        self.task = self.progress.add_task("pretraining", total=total, completed=done, losses="")

    def update(self, step: int, parts: dict[str, float]) -> None:
        if self.enabled:
            shown = " ".join(f"{k}={v:.3f}" for k, v in parts.items()
                             if k in ("loss", "align", "consistency", "budget", "mask_rate", "unimodal")
                             and v == v)
            self.progress.update(self.task, completed=step, losses=shown)

    def close(self) -> None:
        if self.enabled:
            self.progress.stop()
