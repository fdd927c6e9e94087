"""Pretraining speed of every preset on the CPU default config, side by side with CLIP.

Run:  .venv/bin/python benchmarks/bench_pretrain.py [--presets clip,merl,scar] [--steps 10]
      [--warmup 3] [--batch-size 32] [--infer-batches 5] [--seed 0]

What is measured (the CPU default of every preset: the ``transformer-cpu`` encoder, 100 Hz x 10 s
= 12 leads x 10 one-second patches = 120 lead x time tokens per ECG, the packaged all-MiniLM-L6-v2 text encoder, frozen):

- **training**: one optimiser step of the model side as :func:`ecgfoundry.train.loop.pretrain` takes
  it (missingness augmentation, forward losses, backward, gradient clipping, AdamW, schedule),
  preceded for the adversarial presets by the masker step the loop takes before it (with the
  default ratio of one masker step per model step). ``samples/s`` = batch size / seconds per step,
  the figure ``metrics.csv`` logs. The loop draws a fresh batch for the masker step, so an epoch
  of an adversarial preset takes twice as many batches per model step: ``epoch s`` gives the
  seconds per 1,000 records that reach the model *or* the masker (the paper's "per epoch" figure).
- **inference**: ``encode_ecg`` of a batch of fully observed ECGs in eval mode without gradient
  (the masker is not used at inference), in ms per ECG.

The text encoder is loaded once, shared by all presets, and every report is embedded before any
timing starts (its embedding cache is warm), so text encoding is not timed; looking the cached
embeddings up is (it is part of every real step).

The machine is shared, so its speed drifts: presets are timed **round-robin** (one step of each
preset per round, ``--steps`` rounds after ``--warmup`` rounds), so drift hits all presets alike.
Each figure is the **best** (minimum) step time over the rounds, as ``timeit`` reports: other jobs
on the cores only ever add time, so the minimum is the closest to the uncontended speed; the
median is printed next to it (``--stat median`` makes it the headline figure).

Prints a table with ratios to CLIP, then one JSON line of all figures (``{"bench": "pretrain", ...}``).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

PRESETS = ("clip", "merl", "scar-randmask-mean", "scar-randmask-mean-cons", "scar-advmask-mean",
           "scar-advmask-sel", "scar", "scar-leadmask")


class _Trainer:
    """One preset's model, optimisers and random streams, stepping as the pretraining loop does."""

    def __init__(self, preset: str, text_encoder, train_cfg, encoder: str | None):
        import torch

        from ecgfoundry.models.augment import MissingnessAugment
        from ecgfoundry.models.registry import create_model
        from ecgfoundry.train.loop import _param_groups, lr_factor

        self.preset = preset
        self.cfg = train_cfg
        torch.manual_seed(train_cfg.seed)
        overrides = {"encoder": encoder} if encoder else {}
        self.model = create_model(preset, text_encoder=text_encoder, **overrides)
        self.model.train()
        self.opt = torch.optim.AdamW(_param_groups(self.model.model_parameters(), train_cfg.weight_decay),
                                     lr=train_cfg.lr, betas=(0.9, 0.98), eps=1e-6)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: lr_factor(s, train_cfg))
        self.mopt = (torch.optim.AdamW(self.model.masker_parameters(), lr=train_cfg.masker_lr, weight_decay=0.0)
                     if self.model.has_adversary else None)
        self.aug = MissingnessAugment(train_cfg.lead_drop_p, train_cfg.span_min, train_cfg.span_max)
        self.gen = torch.Generator().manual_seed(train_cfg.seed)
        self.step_no = 0

    @property
    def batches_per_step(self) -> int:
        extra = self.cfg.masker_steps if self.mopt is not None else 0
        return 1 + extra / self.cfg.model_steps_per_masker

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.model.model_parameters())

    def train_step(self, batches) -> float:
        """Seconds for one model step (and the masker step(s) before it); ``batches`` yields
        ``(signal, observed, texts)``."""
        import torch

        model, cfg = self.model, self.cfg
        t0 = time.perf_counter()
        if self.mopt is not None and self.step_no % cfg.model_steps_per_masker == 0:
            for _ in range(cfg.masker_steps):
                signal, observed, texts = next(batches)
                x, m = self.aug(signal, observed, self.gen)
                loss = model.forward_losses(x, m, texts, "masker", self.gen)["loss"]
                self.mopt.zero_grad(set_to_none=True)
                loss.backward()
                self.mopt.step()
            self.opt.zero_grad(set_to_none=True)
        signal, observed, texts = next(batches)
        x, m = self.aug(signal, observed, self.gen)
        loss = model.forward_losses(x, m, texts, "model", self.gen)["loss"]
        if not bool(torch.isfinite(loss)):
            raise RuntimeError(f"{self.preset}: non-finite loss at benchmark step {self.step_no}")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        params = self.model.model_parameters()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        self.opt.step()
        self.sched.step()
        self.step_no += 1
        return time.perf_counter() - t0

    def infer(self, signal, observed) -> float:
        """Seconds for ``encode_ecg`` of one batch in eval mode."""
        import torch

        self.model.eval()
        try:
            with torch.inference_mode():
                t0 = time.perf_counter()
                self.model.encode_ecg(signal, observed)
                return time.perf_counter() - t0
        finally:
            self.model.train()


def _batches(signal, observed, texts, batch_size: int, seed: int):
    """Endless seeded stream of (signal, observed, texts) batches, reshuffled every epoch."""
    import numpy as np
    import torch

    rng = np.random.default_rng(seed)
    n = len(texts)
    while True:
        perm = rng.permutation(n)
        for a in range(0, n - batch_size + 1, batch_size):
            idx = np.sort(perm[a:a + batch_size])
            yield (torch.from_numpy(signal[idx]), torch.from_numpy(observed[idx]), [texts[i] for i in idx])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", default=",".join(PRESETS), help="comma-separated presets (default: all 7)")
    p.add_argument("--steps", type=int, default=10, help="timed rounds (one step of each preset per round)")
    p.add_argument("--warmup", type=int, default=3, help="untimed rounds first")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--infer-batches", type=int, default=5, help="timed inference rounds")
    p.add_argument("--n", type=int, default=512, help="synthetic records to draw batches from")
    p.add_argument("--encoder", default=None, help="override the ECG encoder (default: each preset's, transformer-cpu)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stat", choices=("min", "median"), default="min",
                   help="statistic over the timed rounds (default min: least disturbed by other jobs)")
    args = p.parse_args(argv)
    stat = min if args.stat == "min" else statistics.median
    presets = [s.strip() for s in args.presets.split(",") if s.strip()]
    if "clip" not in presets:
        presets.insert(0, "clip")  # the reference of every ratio
    if args.steps < 1 or args.batch_size < 1 or args.n < args.batch_size:
        p.error("need --steps >= 1, --batch-size >= 1 and --n >= --batch-size")

    import numpy as np
    import torch

    from ecgfoundry.datasets.synthetic import generate
    from ecgfoundry.models.registry import get_model_config
    from ecgfoundry.models.text import build_text_encoder
    from ecgfoundry.train.config import TrainConfig

    t_start = time.perf_counter()
    ds = generate(args.n, fs=100.0, seconds=10.0, seed=args.seed)
    signal = np.ascontiguousarray(ds.signal, dtype=np.float32)
    observed = np.ones(signal.shape, dtype=bool)
    texts = list(ds.reports)

    text_cfgs = {get_model_config(name).text for name in presets}
    if len(text_cfgs) != 1:
        raise SystemExit(f"the presets do not share one text encoder config: {text_cfgs}")
    text_encoder = build_text_encoder(text_cfgs.pop())
    t0 = time.perf_counter()
    text_encoder.encode(texts)  # warm the embedding cache: text encoding is not timed
    warm_s = time.perf_counter() - t0

    train_cfg = TrainConfig(steps=args.warmup + args.steps, batch_size=args.batch_size,
                            warmup_steps=min(100, args.warmup + args.steps), seed=args.seed)
    trainers = {name: _Trainer(name, text_encoder, train_cfg, args.encoder) for name in presets}
    streams = {name: _batches(signal, observed, texts, args.batch_size, args.seed) for name in presets}
    step_s: dict[str, list[float]] = {name: [] for name in presets}
    for r in range(args.warmup + args.steps):
        took = {name: trainers[name].train_step(streams[name]) for name in presets}
        if r >= args.warmup:
            for name, dt in took.items():
                step_s[name].append(dt)
        print(f"round {r + 1}/{args.warmup + args.steps}{' (warm-up)' if r < args.warmup else ''}: "
              + " ".join(f"{name}={dt:.2f}s" for name, dt in took.items()), flush=True)

    x = torch.from_numpy(signal[:args.batch_size])
    m = torch.from_numpy(observed[:args.batch_size])
    infer_s: dict[str, list[float]] = {name: [] for name in presets}
    for r in range(1 + args.infer_batches):
        for name in presets:
            dt = trainers[name].infer(x, m)
            if r >= 1:
                infer_s[name].append(dt)

    results = {}
    for name in presets:
        tr = trainers[name]
        sec = stat(step_s[name])
        results[name] = {
            "params": tr.n_parameters(),
            "step_s": sec,
            "step_s_median": statistics.median(step_s[name]),
            "step_s_all": [round(v, 4) for v in step_s[name]],
            "train_samples_per_s": args.batch_size / sec,
            "batches_per_step": tr.batches_per_step,
            "epoch_s_per_1k": 1000.0 / (args.batch_size * tr.batches_per_step / sec),
            "infer_ms_per_ecg": 1000.0 * stat(infer_s[name]) / args.batch_size,
            "infer_ms_per_ecg_median": 1000.0 * statistics.median(infer_s[name]) / args.batch_size,
        }
    ref = results["clip"]
    for r in results.values():
        r["train_samples_per_s_vs_clip"] = r["train_samples_per_s"] / ref["train_samples_per_s"]
        r["epoch_time_vs_clip"] = r["epoch_s_per_1k"] / ref["epoch_s_per_1k"]
        r["infer_ms_vs_clip"] = r["infer_ms_per_ecg"] / ref["infer_ms_per_ecg"]
        r["step_s_median_vs_clip"] = r["step_s_median"] / ref["step_s_median"]

    enc = trainers["clip"].model.cfg.encoder
    print()
    print(f"CPU default config: encoder {args.encoder or 'transformer-cpu'} (d_model {enc.d_model}, depth {enc.depth}, "
          f"patch {enc.patch_size}), 100 Hz x 10 s = {12 * int(1000 // enc.patch_size)} tokens/ECG, batch {args.batch_size}, frozen MiniLM "
          f"(cache warmed: {len(set(texts))} reports in {warm_s:.1f} s), torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {args.stat} of {args.steps} round-robin steps after {args.warmup} warm-up")
    head = (f"{'preset':<24} {'train samples/s':>15} {'x CLIP':>7} {'s/step':>7} {'epoch s/1k':>10} "
            f"{'x CLIP':>7} {'infer ms/ECG':>12} {'x CLIP':>7} {'median s/step':>13} {'x CLIP':>7}")
    print(head)
    print("-" * len(head))
    for name, r in results.items():
        print(f"{name:<24} {r['train_samples_per_s']:>15.1f} {r['train_samples_per_s_vs_clip']:>7.2f} "
              f"{r['step_s']:>7.3f} {r['epoch_s_per_1k']:>10.1f} {r['epoch_time_vs_clip']:>7.2f} "
              f"{r['infer_ms_per_ecg']:>12.2f} {r['infer_ms_vs_clip']:>7.2f} {r['step_s_median']:>13.3f} "
              f"{r['step_s_median_vs_clip']:>7.2f}")
    if "scar" in results and "merl" in results:
        print(f"SCAR / MERL time per epoch: {results['scar']['epoch_s_per_1k'] / results['merl']['epoch_s_per_1k']:.2f}x "
              f"(the paper reports about 1.55x on its hardware); per model step: "
              f"{results['scar']['step_s'] / results['merl']['step_s']:.2f}x")
    summary = {"bench": "pretrain", "machine": platform.machine(), "torch": torch.__version__,
               "threads": torch.get_num_threads(), "batch_size": args.batch_size, "steps": args.steps,
               "warmup": args.warmup, "stat": args.stat, "encoder": args.encoder or "transformer-cpu", "seed": args.seed,
               "wall_s": round(time.perf_counter() - t_start, 1),
               "results": {k: {kk: (round(vv, 4) if isinstance(vv, float) else vv) for kk, vv in v.items()}
                           for k, v in results.items()}}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
