"""``ecgfoundry study``: studies that train and evaluate many models with one command.

``contrastive-robustness``: how does the pretraining objective affect the adversarial robustness of
an ECG encoder? One encoder per objective (SimCLR, MoCo, BYOL, CLEF, CLIP, SCAR by default) and
seed is pretrained with the same backbone, step budget, batch size, learning rate and seed; each is
linear-probed (frozen encoder, 100 % of the training split, epoch chosen on validation) and the
probe is attacked end to end through the frozen encoder with FGSM and PGD at several L-inf budgets
(:mod:`ecgfoundry.eval.robustness_study`, which also holds the control, the tables and the report;
this module parses flags, pretrains and coordinates processes). ``untrained`` is the control: the shared random
initialisation of the encoder, probed and attacked without pretraining. Results: ``runs.csv`` (every run x condition),
``summary.csv`` (mean and sd over seeds), ``report.md`` (the exact command first, the tables, the
gap between objectives next to the seed-to-seed spread) and ``robustness.png`` (AUROC against epsilon
per objective with the seed spread) in ``--out``; checkpoints in ``--work`` (default ``OUT/runs``).

Resumable: finished runs (``robustness.json`` in their folder) are skipped, an interrupted
pretraining continues from its last checkpoint; the settings are saved in ``WORK/study.json`` and a
rerun with different settings in the same folder is refused (adding objectives or seeds is fine).
Several processes may work on one study at once (e.g. ``--seeds 0,1,2`` and ``--seeds 2,1,0``): a run
being computed by a live process holds ``running.lock`` in its folder and the others skip it; the
tables cover the finished runs, so a last invocation after all workers are done writes the full ones.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import time
from pathlib import Path

from ecgfoundry.eval.robustness_study import UNTRAINED

EXAMPLE = """examples:
  ecgfoundry synth --n 3000 --seed 0 --out runs/synth
  ecgfoundry study contrastive-robustness --data runs/synth --encoder transformer-tiny --steps 300 \\
      --seeds 0,1,2 --out runs/study-synth
  ecgfoundry study contrastive-robustness --data ../shared/data/ptbxl --label-set superdiagnostic \\
      --text-source statements --encoder resnet-small --steps 300 --seeds 0,1,2 \\
      --eps 0.005,0.01,0.03 --attack-n 200 --out runs/study-ptbxl
  ecgfoundry study contrastive-robustness --data runs/synth --out runs/study-synth --seeds 0,1,2,3   # add a seed
PTB-XL: the train split (folds 1-4 in ../shared/data) trains the encoder and the probe, the validation
fold 9 chooses the probe's epoch, the test fold 10 is reported and attacked. Use an encoder with
z-scored input on real data (resnet-small, resnet-cpu): transformer-tiny sees raw millivolts.
"""

DEFAULT_OBJECTIVES = ("simclr", "moco", "byol", "clef", "clip", "scar", UNTRAINED)
TEXT_OBJECTIVES = ("clip", "merl", "scar")


def _csv(kind):
    def parse(text: str):
        try:
            values = tuple(kind(x.strip()) for x in text.split(",") if x.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}") from None
        if not values:
            raise argparse.ArgumentTypeError("expected at least one value")
        return values
    return parse


def register(sub) -> None:
    p = sub.add_parser("study", help="multi-model studies (contrastive-robustness)", description=__doc__,
                       epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    ssub = p.add_subparsers(dest="study_command", metavar="STUDY")
    c = ssub.add_parser("contrastive-robustness", help="pretraining objective vs adversarial robustness",
                        description=__doc__, epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("--data", type=Path, required=True, help="dataset folder or cache folder")
    c.add_argument("--out", type=Path, required=True, help="folder for the tables, report.md and robustness.png")
    c.add_argument("--work", type=Path, default=None, help="folder for the runs' checkpoints (default OUT/runs)")
    c.add_argument("--objectives", type=_csv(str), default=DEFAULT_OBJECTIVES,
                   help="objectives / presets to compare, 'untrained' = the shared initialisation without "
                        "pretraining (default simclr,moco,byol,clef,clip,scar,untrained)")
    c.add_argument("--seeds", type=_csv(int), default=(0, 1, 2), help="seeds (default 0,1,2)")
    c.add_argument("--steps", type=int, default=300, help="pretraining steps of every run (default 300)")
    c.add_argument("--batch-size", type=int, default=64, help="pretraining batch size (default 64)")
    c.add_argument("--lr", type=float, default=1e-3, help="pretraining learning rate (default 1e-3)")
    c.add_argument("--encoder", default="transformer-tiny",
                   help="registered ECG encoder shared by every objective (default transformer-tiny)")
    c.add_argument("--label-set", default=None, help="probe label set (default: the dataset's default)")
    c.add_argument("--text-source", default=None,
                   choices=("report", "report_en", "report_glossary", "statements", "text", "labels"),
                   help="text paired with each ECG for CLIP / SCAR: PTB-XL report | report_en | report_glossary "
                        "(the report's German and Swedish terms in English) | statements; WFDB folder (incl. "
                        "synthetic) text | labels (label descriptions)")
    c.add_argument("--text-kind", choices=("transformers", "hashing"), default=None,
                   help="text encoder of CLIP / SCAR ('hashing': tiny random encoder, smoke tests only)")
    c.add_argument("--text-model", default=None, help="text encoder: local folder or cached hub id")
    c.add_argument("--attacks", type=_csv(str), default=("fgsm", "pgd"), help="fgsm,pgd (default both)")
    c.add_argument("--eps", type=_csv(float), default=(0.01, 0.03, 0.1),
                   help="L-inf budgets in --eps-unit (default 0.01,0.03,0.1)")
    c.add_argument("--eps-unit", choices=("mV", "std"), default="mV", help="unit of --eps (default mV)")
    c.add_argument("--pgd-steps", type=int, default=10, help="PGD steps, at least 10 (default 10)")
    c.add_argument("--attack-n", type=int, default=None,
                   help="attack a seeded subsample of this many test records (default: all)")
    c.add_argument("--fs", type=float, default=100.0, help="harmonised sampling rate (default 100)")
    c.add_argument("--seconds", type=float, default=10.0, help="harmonised length (default 10)")
    c.add_argument("--cache-root", type=Path, default=None,
                   help="where dataset caches go (default: $ECGFOUNDRY_CACHE/stores, else ~/.cache/ecgfoundry/stores)")
    c.add_argument("--no-progress", action="store_true")
    c.set_defaults(func=run_contrastive_robustness)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


SETTINGS = ("data", "steps", "batch_size", "lr", "encoder", "label_set", "text_source", "text_kind", "text_model",
            "attacks", "eps", "eps_unit", "pgd_steps", "attack_n", "fs", "seconds")


def _settings(args) -> dict:
    out = {}
    for k in SETTINGS:
        v = getattr(args, k)
        out[k] = str(Path(v).resolve()) if k == "data" else (list(v) if isinstance(v, tuple) else v)
    return out


def _command(args) -> str:
    """The command line that reproduces this study (every setting explicit)."""
    parts = ["ecgfoundry", "study", "contrastive-robustness", "--data", str(args.data), "--out", str(args.out)]
    if args.work is not None:
        parts += ["--work", str(args.work)]
    parts += ["--objectives", ",".join(args.objectives), "--seeds", ",".join(map(str, args.seeds)),
              "--steps", str(args.steps), "--batch-size", str(args.batch_size), "--lr", f"{args.lr:g}",
              "--encoder", args.encoder]
    for flag in ("label_set", "text_source", "text_kind", "text_model"):
        if getattr(args, flag):
            parts += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    parts += ["--attacks", ",".join(args.attacks), "--eps", ",".join(f"{e:g}" for e in args.eps),
              "--eps-unit", args.eps_unit, "--pgd-steps", str(args.pgd_steps)]
    if args.attack_n is not None:
        parts += ["--attack-n", str(args.attack_n)]
    if args.fs != 100.0 or args.seconds != 10.0:
        parts += ["--fs", f"{args.fs:g}", "--seconds", f"{args.seconds:g}"]
    return shlex.join(parts)


def _check(args):
    from ecgfoundry.cli.main import UsageError
    from ecgfoundry.models.registry import list_encoders, list_models

    known = list_models() + [UNTRAINED]
    bad = [o for o in args.objectives if o not in known]
    if bad:
        raise UsageError(f"unknown objective(s) {', '.join(bad)}", hint=f"choose from {', '.join(known)}")
    if len(set(args.objectives)) != len(args.objectives) or len(set(args.seeds)) != len(args.seeds):
        raise UsageError("--objectives and --seeds must not repeat a value")
    if args.encoder not in list_encoders():
        raise UsageError(f"unknown encoder {args.encoder!r}", hint=f"choose from {', '.join(list_encoders())}")
    for a in args.attacks:
        if a not in ("fgsm", "pgd"):
            raise UsageError(f"unknown attack {a!r}", hint="choose from fgsm, pgd")
    if any(not e > 0 for e in args.eps):
        raise UsageError("--eps values must be > 0")
    for name in ("steps", "batch_size", "pgd_steps"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1")
    if args.attack_n is not None and args.attack_n < 2:
        raise UsageError("--attack-n must be >= 2")
    from ecgfoundry.eval.adversarial import MIN_PGD_STEPS

    if "pgd" in args.attacks and args.pgd_steps < MIN_PGD_STEPS:
        raise UsageError(f"--pgd-steps must be >= {MIN_PGD_STEPS}: fewer steps left PGD weaker than FGSM")


def _model_config(args, objective: str):
    from ecgfoundry.models.registry import get_model_config

    overrides: dict = {"encoder": args.encoder}
    cfg = get_model_config(objective)
    if not cfg.is_ssl:
        text: dict = {}
        if args.text_kind:
            text["kind"] = args.text_kind
        if args.text_model:
            text["model"] = args.text_model
        if text:
            overrides["text"] = text
    return get_model_config(objective, **overrides)


class _TextEncoders:
    """One frozen pretrained text encoder shared by the CLIP / SCAR runs (loaded once; embeddings on
    the disk cache of :func:`ecgfoundry.train.loop.default_text_cache`). Hashing encoders are random
    and built by each run from its own seed, so they are not shared."""

    def __init__(self):
        self._cache: dict = {}

    def get(self, cfg):
        t = cfg.text
        if cfg.is_ssl or t.kind != "transformers" or t.mode != "frozen":
            return None
        from ecgfoundry.models.text import build_text_encoder
        from ecgfoundry.train.loop import default_text_cache

        t = t.replace(cache_dir=t.cache_dir or default_text_cache())
        key = t.to_json()
        if key not in self._cache:
            self._cache[key] = build_text_encoder(t)
        return self._cache[key]


def _take_lock(run_dir: Path) -> bool:
    """Create ``run_dir/running.lock`` holding this process id; False when a live process holds it
    (a lock left by a dead process is taken over)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = run_dir / "running.lock"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                pid = int(lock.read_text().strip() or "0")
            except (OSError, ValueError):
                pid = 0
            alive = pid > 0 and pid != os.getpid()
            if alive:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    alive = False
                except PermissionError:
                    pass
            if alive:
                return False
            lock.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))
        return True
    return False


def _finite(x):
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def run_contrastive_robustness(args) -> int:
    from ecgfoundry.cli.main import UsageError, input_scale_note
    from ecgfoundry.eval.robustness_study import plot_curves, runs_table, study_report, summarize
    from ecgfoundry.io.store import HarmonizeSpec, open_store
    from ecgfoundry.progress import track

    _check(args)
    progress = not args.no_progress
    out = Path(args.out)
    work = Path(args.work) if args.work is not None else out / "runs"
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    settings = _settings(args)
    saved = work / "study.json"
    if saved.exists():
        before = json.loads(saved.read_text())
        diff = sorted(k for k in SETTINGS if before.get(k) != settings.get(k))
        if diff:
            raise UsageError(f"{work} holds a study with other settings ({', '.join(diff)}: "
                             f"{', '.join(f'{before.get(k)!r} -> {settings.get(k)!r}' for k in diff)})",
                             hint="use another --out / --work, or the same settings to resume")
    else:
        saved.write_text(json.dumps(settings, indent=2))

    kw = {"text_source": args.text_source} if args.text_source else {}
    store = open_store(args.data, HarmonizeSpec(fs=args.fs, seconds=args.seconds), args.cache_root,
                       progress=progress, **kw)
    note = input_scale_note(args.encoder, store.name)
    if note:
        print(note)
    texts = _TextEncoders()
    results, busy = [], []
    grid = [(seed, obj) for seed in args.seeds for obj in args.objectives]
    start = time.perf_counter()
    for seed, obj in track(grid, f"{len(grid)} runs ({len(args.objectives)} objectives x {len(args.seeds)} seeds)",
                           enabled=progress):
        run_dir = work / f"{obj}-seed{seed}"
        result_path = run_dir / "robustness.json"
        if result_path.exists():
            from ecgfoundry.eval.attack_tables import ATTACK_VERSION

            saved_run = json.loads(result_path.read_text())
            if saved_run.get("attack_version", 1) != ATTACK_VERSION:
                raise UsageError(f"{result_path} was attacked with an older FGSM / PGD (version "
                                 f"{saved_run.get('attack_version', 1)}, now {ATTACK_VERSION})",
                                 hint="use another --work, or delete the robustness.json files to attack again")
            results.append(saved_run)
            print(f"{obj} seed {seed}: done before, skipped")
            continue
        if not _take_lock(run_dir):
            busy.append(f"{obj}-seed{seed}")
            print(f"{obj} seed {seed}: being computed by another process, skipped")
            continue
        try:
            res = _one_run(args, store, texts, obj, seed, run_dir)
        finally:
            (run_dir / "running.lock").unlink(missing_ok=True)
        results.append(res)
    elapsed = time.perf_counter() - start
    timings = [r.get("pretrain_wall_s", 0) + r.get("eval_wall_s", 0) for r in results]
    if not results:
        print(f"no finished run yet ({len(busy)} being computed by other processes): no tables written")
        return 0

    table = runs_table(results)
    summary = summarize(table, args.objectives)
    table.to_csv(out / "runs.csv", index=False)
    summary.to_csv(out / "summary.csv", index=False)
    label_set = results[0]["label_set"] if results else args.label_set
    plot_curves(table, out / "robustness.png", title=f"{store.name} / {label_set}: linear probe on frozen "
                f"{args.encoder} encoders, {args.steps} pretraining steps, seeds {','.join(map(str, args.seeds))}",
                eps_unit=args.eps_unit)
    report = study_report(_spec(args), _command(args), store, label_set, results, summary, table, sum(timings),
                          elapsed, busy)
    (out / "report.md").write_text(report)
    if busy:
        print(f"note: {len(busy)} run(s) still being computed by other processes ({', '.join(busy)}); "
              "the tables cover the finished runs: run the same command again when they are done")
    print(f"wrote {out / 'report.md'}, {out / 'summary.csv'}, {out / 'runs.csv'}, {out / 'robustness.png'}")
    return 0


def _one_run(args, store, texts: _TextEncoders, obj: str, seed: int, run_dir: Path) -> dict:
    """Pretrain (or resume) one objective with one seed, then probe and attack it; writes
    ``run_dir/robustness.json`` and returns its content."""
    import torch

    from ecgfoundry.checkpoint import load_model
    from ecgfoundry.eval.robustness_study import probe_and_attack
    from ecgfoundry.train.config import TrainConfig
    from ecgfoundry.train.loop import pretrain

    progress = not args.no_progress
    if obj == UNTRAINED:
        return _untrained_run(args, store, seed, run_dir)
    cfg = _model_config(args, obj)
    warmup = min(100, max(1, args.steps // 10))
    train_cfg = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, warmup_steps=warmup,
                            seed=seed, log_every=max(1, min(25, args.steps)),
                            checkpoint_every=max(1, min(args.steps, 100)))
    text_encoder = texts.get(cfg)
    t0 = time.perf_counter()
    resume = (run_dir / "checkpoints" / "latest").exists()
    if not resume and (run_dir / "metrics.csv").exists():  # an attempt stopped before its first checkpoint
        (run_dir / "metrics.csv").unlink()
    torch.manual_seed(seed)
    summary = pretrain(cfg, train_cfg, store, run_dir, resume=resume, progress=progress, text_encoder=text_encoder)
    t1 = time.perf_counter()
    model = load_model(run_dir, text_encoder=text_encoder)
    res = probe_and_attack(model, store, args.label_set, seed, args.attacks, args.eps, args.eps_unit,
                           pgd_steps=args.pgd_steps, attack_n=args.attack_n, progress=progress)
    t2 = time.perf_counter()
    res.update(objective=obj, seed=seed, encoder=args.encoder, steps=int(summary.get("steps", args.steps)),
               pretrain_wall_s=round(t1 - t0, 2), eval_wall_s=round(t2 - t1, 2))
    (run_dir / "robustness.json").write_text(json.dumps(_finite(res), indent=2))
    print(f"{obj} seed {seed}: clean AUROC {res['clean']['auroc']:.3f}, accuracy {res['clean']['accuracy']:.3f} "
          f"(pretrain {t1 - t0:.0f} s, probe + attacks {t2 - t1:.0f} s)", flush=True)
    return res


def _untrained_run(args, store, seed: int, run_dir: Path) -> dict:
    """The control: probe and attack the encoder as initialised for ``seed`` (no pretraining)."""
    from ecgfoundry.eval.robustness_study import untrained_control

    t1 = time.perf_counter()
    res = untrained_control(_model_config(args, "simclr"), store, args.label_set, seed, args.attacks, args.eps,
                            args.eps_unit, pgd_steps=args.pgd_steps, attack_n=args.attack_n,
                            progress=not args.no_progress)
    t2 = time.perf_counter()
    res.update(encoder=args.encoder, eval_wall_s=round(t2 - t1, 2))
    (run_dir / "robustness.json").write_text(json.dumps(_finite(res), indent=2))
    print(f"{UNTRAINED} seed {seed}: clean AUROC {res['clean']['auroc']:.3f}, accuracy "
          f"{res['clean']['accuracy']:.3f} (probe + attacks {t2 - t1:.0f} s)", flush=True)
    return res


def _spec(args):
    from ecgfoundry.eval.robustness_study import StudySpec

    return StudySpec(seeds=tuple(args.seeds), encoder=args.encoder, steps=args.steps, batch_size=args.batch_size,
                     lr=args.lr, attacks=tuple(args.attacks), eps_unit=args.eps_unit, pgd_steps=args.pgd_steps,
                     attack_n=args.attack_n)
