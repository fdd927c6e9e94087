"""``ecgfoundry pretrain``: ECG–language pretraining (SCAR, CLIP, MERL and the SCAR ablations) and
ECG-only self-supervised pretraining (SimCLR, MoCo, BYOL, CLEF)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

EXAMPLE = """examples:
  ecgfoundry synth --n 5000 --out runs/synth
  ecgfoundry pretrain --preset scar --data runs/synth --out runs/scar --steps 300
  ecgfoundry pretrain --preset clip --data runs/synth --out runs/clip --steps 300
  ecgfoundry pretrain --preset scar --data ../shared/data/ptbxl --text-source statements --out runs/scar-ptbxl
  ecgfoundry pretrain --preset clip --recipe ptbxl-cpu --data ../shared/data/ptbxl --out runs/ptbxl-clip   # the shipped models' recipe
  ecgfoundry pretrain --out runs/scar --resume --steps 600   # continue a run (data, text, recipe from its run.json)
  torchrun --nproc_per_node=2 -m ecgfoundry pretrain --preset scar --data runs/synth --out runs/ddp
  ecgfoundry pretrain --objective simclr --data runs/synth --out runs/simclr --steps 300   # ECG-only SSL
  ecgfoundry pretrain --objective clef --data ../shared/data/ptbxl --out runs/clef-ptbxl    # age/sex-guided
presets: clip, merl, scar (= full), scar-randmask-mean, scar-randmask-mean-cons, scar-advmask-mean,
         scar-advmask-sel, scar-leadmask (extension: whole-lead adversary); ECG-only: simclr, moco, byol, clef (--objective NAME is the preset of that
         objective). --config FILE takes a JSON {"model": {...}, "train": {...}} instead.
ECG-only objectives draw two augmented views per record themselves (crop, scaling, noise, baseline
wander, time and lead masks: the model's "ssl" config), so --lead-drop-p / --span-* do not apply to them;
they need no report text.
"""

OBJECTIVES = ("clip", "merl", "scar", "simclr", "moco", "byol", "clef")
"""``--objective``: each names the preset of the same name."""

_TRAIN_FLAGS = ("steps", "batch_size", "lr", "weight_decay", "warmup_steps", "min_lr_ratio", "grad_clip",
                "masker_lr", "masker_steps", "model_steps_per_masker", "minmax", "lead_drop_p", "span_min", "span_max",
                "seed", "log_every", "checkpoint_every", "amp", "device", "split")


def register(sub) -> None:
    from ecgfoundry.train.config import TrainConfig

    p = sub.add_parser("pretrain", help="pretrain an ECG encoder (SCAR, CLIP, MERL, ablations; SimCLR, MoCo, BYOL, CLEF)",
                       description=__doc__, epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--preset", default=None, help="model preset (see below)")
    src.add_argument("--objective", choices=OBJECTIVES, default=None,
                     help="pretraining objective (the preset of that name): " + ", ".join(OBJECTIVES))
    src.add_argument("--config", type=Path, default=None, help="JSON file with 'model' (and 'train') sections")
    p.add_argument("--data", type=Path, default=None, help="dataset folder or cache folder (a resumed run: "
                   "the one in its run.json)")
    p.add_argument("--out", type=Path, required=True, help="run folder (checkpoints, metrics.csv, run.json)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its latest checkpoint; it needs nothing but --out "
                        "(and --steps to train longer): the rest is read from OUT/run.json")
    p.add_argument("--recipe", default=None,
                   help="training recipe (encoder, text, schedule, data options; flags override it): ptbxl-cpu")
    p.add_argument("--encoder", default=None, help="override the ECG encoder (e.g. transformer-tiny, resnet18)")
    p.add_argument("--text-model", default=None, help="text encoder: local folder or hub id already cached")
    p.add_argument("--text-kind", choices=("transformers", "hashing"), default=None,
                   help="'hashing' = tiny random text encoder (smoke tests only)")
    p.add_argument("--text-source", default=None,
                   choices=("report", "report_en", "report_glossary", "statements", "text", "labels"),
                   help="text paired with each ECG: PTB-XL report | report_en | report_glossary (the report's German "
                        "and Swedish terms in English) | statements (SCP statement descriptions); WFDB folder "
                        "(incl. synthetic) text | labels (label descriptions)")
    p.add_argument("--fs", type=float, default=None, help="harmonised sampling rate (default 100, or the recipe's)")
    p.add_argument("--seconds", type=float, default=None, help="harmonised length (default 10, or the recipe's)")
    p.add_argument("--cache-root", type=Path, default=None,
                   help="where dataset caches go (default: $ECGFOUNDRY_CACHE/stores, else ~/.cache/ecgfoundry/stores)")
    p.add_argument("--stop-at", type=int, default=None, metavar="STEP",
                   help="end after this step, with a checkpoint; the learning-rate schedule still spans --steps, "
                        "so --resume continues the same run")
    p.add_argument("--no-progress", action="store_true")
    defaults = TrainConfig()
    for f in fields(TrainConfig):
        if f.name not in _TRAIN_FLAGS:
            continue
        default = getattr(defaults, f.name)
        p.add_argument(f"--{f.name.replace('_', '-')}", dest=f"train_{f.name}", default=None,
                       type=type(default), help=f"(default {default})")
    p.set_defaults(func=run)


def _configs(args):
    from ecgfoundry.cli.main import UsageError
    from ecgfoundry.models.config import ModelConfig, TextConfig
    from ecgfoundry.models.registry import get_model_config, list_models
    from ecgfoundry.train.config import TrainConfig

    train_data: dict = {}
    if args.config is not None:
        try:
            raw = json.loads(args.config.read_text())
        except FileNotFoundError:
            raise UsageError(f"{args.config}: no such file") from None
        except json.JSONDecodeError as exc:
            raise UsageError(f"{args.config}: not valid JSON ({exc})") from None
        if "model" not in raw:
            raise UsageError(f"{args.config}: missing the 'model' section")
        from ecgfoundry.models.registry import create_model  # noqa: F401  (resolves encoder names)
        from ecgfoundry.models.registry import _resolve_encoder  # type: ignore[attr-defined]

        model_raw = dict(raw["model"])
        if "encoder" in model_raw:
            enc = _resolve_encoder(model_raw["encoder"])
            model_raw["encoder"] = enc.to_dict() if hasattr(enc, "to_dict") else enc
        model_cfg = ModelConfig.from_dict(model_raw)
        train_data = dict(raw.get("train", {}))
    elif args.resume and (args.out / "model.json").exists():
        model_cfg = ModelConfig.from_dict(json.loads((args.out / "model.json").read_text()))
        train_data = json.loads((args.out / "train.json").read_text())
    else:
        preset = args.preset or getattr(args, "objective", None) or "scar"
        if preset not in list_models() + ["full"]:
            raise UsageError(f"unknown preset {preset!r}", hint=f"choose one of {', '.join(list_models())}")
        model_cfg = get_model_config(preset)
    data_opts: dict = {}
    if getattr(args, "recipe", None):
        from ecgfoundry.train.recipe import apply_recipe, list_recipes

        if args.recipe not in list_recipes():
            raise UsageError(f"unknown recipe {args.recipe!r}", hint=f"choose one of {', '.join(list_recipes())}")
        model_cfg, recipe_train, data_opts = apply_recipe(args.recipe, model_cfg)
        train_data = {**train_data, **recipe_train}
    args.recipe_data = data_opts
    if args.encoder:
        from ecgfoundry.models.registry import get_encoder_config

        model_cfg = model_cfg.replace(encoder=get_encoder_config(args.encoder))
    if args.text_kind or args.text_model:
        t = model_cfg.text
        model_cfg = model_cfg.replace(text=TextConfig.from_dict({**t.to_dict(),
                                                                 **({"kind": args.text_kind} if args.text_kind else {}),
                                                                 **({"model": args.text_model} if args.text_model else {})}))
    for name in _TRAIN_FLAGS:
        v = getattr(args, f"train_{name}")
        if v is not None:
            train_data[name] = v
    return model_cfg, TrainConfig.from_dict(train_data)


RUN_FILE = "run.json"
"""The run's provenance, written by ``pretrain`` into the run folder (see :func:`run_record`)."""

_RUN_OPTIONS = ("preset", "objective", "config", "recipe", "encoder", "text_model", "text_kind", "text_source",
                "fs", "seconds")
"""Flags fixed for the life of a run: on ``--resume`` each one given must equal the recorded value."""


def _relative(path: Path, start: Path) -> str:
    """``path`` relative to ``start`` (the run folder), so a run folder can be moved with its data
    beside it and read from any directory."""
    import os

    return os.path.relpath(Path(path).resolve(), Path(start).resolve())


def _recorded_path(run: dict, key: str, out: Path) -> Path | None:
    """A path recorded in ``run.json``: relative to the run folder, with the absolute one as a fallback."""
    entry = run.get(key)
    if not entry:
        return None
    rel = (out / entry["relative"]) if entry.get("relative") else None
    if rel is not None and rel.exists():
        return rel
    return Path(entry["absolute"]) if entry.get("absolute") else rel


def _path_entry(path: Path | None, out: Path) -> dict | None:
    if path is None:
        return None
    return {"relative": _relative(path, out), "absolute": str(Path(path).resolve())}


def read_run(out: Path) -> dict:
    """The ``run.json`` of a run folder ({} for a run written before it existed)."""
    from ecgfoundry.errors import EcgDataError

    p = out / RUN_FILE
    if not p.exists():
        return {}
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise EcgDataError(p, None, f"corrupt JSON ({exc})") from None


def _resume_options(args, run: dict) -> None:
    """Fill ``args`` from a run's ``run.json`` for ``--resume``; a flag that conflicts with it is an error."""
    from ecgfoundry.cli.main import UsageError

    if not (args.out / "checkpoints" / "latest").exists():
        raise UsageError(f"{args.out}: nothing to resume (no checkpoints/latest)",
                         hint="start the run without --resume, or point --out at an existing run")
    if not run:
        if args.data is None:
            raise UsageError(f"{args.out}: this run has no {RUN_FILE} (written by an older ecgfoundry), so "
                             "its data is not known", hint="pass --data (and --text-source) as when it was started")
        return
    recorded = run.get("options", {})
    for name in _RUN_OPTIONS:
        given = getattr(args, name, None)
        if given is None:
            continue
        was = recorded.get(name)
        same = (str(Path(given).resolve()) == str(Path(was).resolve())) if name == "config" and was else (
            float(given) == float(was) if name in ("fs", "seconds") and was is not None else given == was)
        if not same:
            raise UsageError(f"--{name.replace('_', '-')} {given} conflicts with the run in {args.out}, "
                             f"started with {was if was is not None else 'none'} ({args.out / RUN_FILE})",
                             hint="drop the flag to continue the run as it was started, or start a new run with "
                                  "another --out")
    data = _recorded_path(run, "data", args.out)
    if args.data is not None and data is not None and args.data.resolve() != data.resolve():
        store = _recorded_path(run, "store", args.out)
        if store is None or args.data.resolve() != store.resolve():
            raise UsageError(f"--data {args.data} conflicts with the run in {args.out}, trained on {data} "
                             f"({args.out / RUN_FILE})", hint="drop --data to continue on the recorded data")
    if args.data is None:
        if data is None or not data.exists():
            store = _recorded_path(run, "store", args.out)
            if store is not None and (store / "store.json").exists():
                data = store
            else:
                raise UsageError(f"{args.out}: the data this run was trained on ({data}) is not there",
                                 hint="pass --data with the same dataset")
        args.data = data
    for name in ("text_source", "fs", "seconds"):
        if getattr(args, name) is None and recorded.get(name) is not None:
            setattr(args, name, recorded[name])
    if args.text_source is None and run.get("text_source"):
        args.text_source = run["text_source"]
    if args.fs is None and run.get("harmonisation"):
        args.fs = run["harmonisation"]["fs"]
    if args.seconds is None and run.get("harmonisation"):
        args.seconds = run["harmonisation"]["seconds"]
    # fixed by the run: model.json and train.json hold them (the recipe's settings included)
    args.recipe = args.preset = args.objective = args.config = args.encoder = None
    args.text_model = args.text_kind = None


def run_record(args, model_cfg, train_cfg, store, text_source: str | None, fs: float, seconds: float,
               previous: dict) -> dict:
    """What ``run.json`` holds: the full command (every one that wrote to the run, resumes
    included), the data path and its cache (relative to the run folder, and absolute), the text
    source, recipe, label sets, harmonisation, seed, versions and the run's options."""
    import platform
    import sys
    import time

    import torch

    from ecgfoundry import __version__

    argv = getattr(args, "argv", None)
    command = " ".join(["ecgfoundry"] + [_quote(str(a)) for a in (sys.argv[1:] if argv is None else argv)])
    commands = list(previous.get("commands", []))
    commands.append({"command": command, "cwd": str(Path.cwd()), "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                     "resume": bool(args.resume)})
    options = dict(previous.get("options", {}))
    if not args.resume or not options:
        options = {name: (str(getattr(args, name)) if isinstance(getattr(args, name), Path) else getattr(args, name))
                   for name in _RUN_OPTIONS}
        options.update(text_source=text_source or store.text_source, fs=fs, seconds=seconds)
        if not (args.preset or args.objective or args.config):
            options["preset"] = "scar"  # the default preset, so `--preset scar` on resume agrees
    label_sets = {k: v["classes"] for k, v in store.info.get("label_sets", {}).items()}
    return {
        "command": commands[0]["command"] if commands else command,
        "commands": commands,
        "data": previous.get("data") or _path_entry(args.data, args.out),
        "store": _path_entry(store.path, args.out),
        "dataset": store.name,
        "text_source": text_source or store.text_source,
        "recipe": previous.get("recipe") if args.resume and previous else getattr(args, "recipe", None),
        "model": model_cfg.name or model_cfg.objective,
        "objective": model_cfg.objective,
        "encoder": getattr(model_cfg.encoder, "kind", None),
        "harmonisation": {"fs": fs, "seconds": seconds, "crop": store.info.get("crop", "first")},
        "default_label_set": store.info.get("default_label_set"),
        "label_sets": label_sets,
        "split": train_cfg.split,
        "seed": train_cfg.seed,
        "steps": train_cfg.steps,
        "options": options,
        "versions": {"ecgfoundry": __version__, "torch": torch.__version__, "python": platform.python_version()},
    }


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def run(args) -> int:
    import os

    from ecgfoundry.cli.main import UsageError, input_scale_note
    from ecgfoundry.errors import TrainingInterrupted
    from ecgfoundry.io.store import HarmonizeSpec, open_store
    from ecgfoundry.train.loop import pretrain

    previous = read_run(args.out)
    if args.resume:
        _resume_options(args, previous)
    elif args.data is None:
        raise UsageError("pretrain needs --data (a dataset or cache folder)",
                         hint="e.g. ecgfoundry pretrain --preset scar --data runs/synth --out runs/scar; "
                              "--resume continues a run from --out alone")
    elif (args.out / "checkpoints" / "latest").exists():
        raise FileExistsError(f"{args.out} already holds a run (pass --resume to continue it, or choose another --out)")
    if args.stop_at is not None and args.stop_at < 1:
        raise UsageError(f"--stop-at must be a step >= 1, got {args.stop_at}")
    model_cfg, train_cfg = _configs(args)
    recipe_data = getattr(args, "recipe_data", {})
    text_source = args.text_source or recipe_data.get("text_source")
    kw = {"text_source": text_source} if text_source else {}
    fs = float(args.fs) if args.fs is not None else float(recipe_data.get("fs", 100.0))
    seconds = float(args.seconds) if args.seconds is not None else float(recipe_data.get("seconds", 10.0))
    store = open_store(args.data, HarmonizeSpec(fs=fs, seconds=seconds), args.cache_root,
                       progress=not args.no_progress, **kw)
    for name, want, have in (("fs", args.fs, store.fs), ("seconds", args.seconds, store.info.get("seconds"))):
        if want is not None and have is not None and abs(float(want) - float(have)) > 1e-9:
            raise UsageError(f"--{name} {float(want):g} conflicts with the cache {store.path}, harmonised to "
                             f"{name} {float(have):g}", hint=f"drop --{name}, or pass the dataset folder as --data")
    main_rank = int(os.environ.get("RANK", "0")) == 0
    note = input_scale_note(model_cfg.encoder, store.name)
    if note and main_rank and not args.resume:
        print(note, file=sys.stderr)
    if main_rank:
        args.out.mkdir(parents=True, exist_ok=True)
        record = run_record(args, model_cfg, train_cfg, store, text_source, fs, seconds, previous)
        tmp = args.out / (RUN_FILE + ".tmp")
        tmp.write_text(json.dumps(record, indent=2))
        os.replace(tmp, args.out / RUN_FILE)
    try:
        summary = pretrain(model_cfg, train_cfg, store, args.out, resume=args.resume, progress=not args.no_progress,
                           stop_at=args.stop_at)
    except TrainingInterrupted as exc:
        if main_rank:
            print(f"interrupted: {exc}", file=sys.stderr)
            print(f"resume with: ecgfoundry pretrain --out {_quote(str(args.out))} --resume", file=sys.stderr)
        return 130
    if summary.get("world_size", 1) == 1 or main_rank:
        final = summary.get("final", {})
        shown = ", ".join(f"{k} {v:.4f}" for k, v in final.items() if v == v and k in (
            "loss", "align", "consistency", "budget", "mask_rate", "contrastive", "clinical", "byol"))
        print(f"pretrained {model_cfg.name or model_cfg.objective} for {summary['steps']} steps "
              f"({summary.get('samples_per_s', 0):.1f} samples/s on {summary.get('device', '?')}"
              f"{', ' + str(summary['world_size']) + ' processes' if summary.get('world_size', 1) > 1 else ''}); "
              f"{shown}; checkpoint: {summary.get('checkpoint')}")
        if summary.get("stopped_early"):
            print(f"stopped at step {summary['steps']} of {train_cfg.steps} (--stop-at); continue with: "
                  f"ecgfoundry pretrain --out {_quote(str(args.out))} --resume")
    return 0
