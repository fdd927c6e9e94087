"""``ecgfoundry pretrain``: ECG–language pretraining (SCAR, CLIP, MERL and the SCAR ablations) and
ECG-only self-supervised pretraining (SimCLR, MoCo, BYOL, CLEF)."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path

EXAMPLE = """examples:
  ecgfoundry synth --n 5000 --out runs/synth
  ecgfoundry pretrain --preset scar --data runs/synth --out runs/scar --steps 300
  ecgfoundry pretrain --preset clip --data runs/synth --out runs/clip --steps 300
  ecgfoundry pretrain --preset scar --data ../shared/data/ptbxl --text-source statements --out runs/scar-ptbxl
  ecgfoundry pretrain --preset clip --recipe ptbxl-cpu --data ../shared/data/ptbxl --out runs/ptbxl-clip   # the shipped models' recipe
  ecgfoundry pretrain --out runs/scar --resume ...            # continue from the latest checkpoint
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
                "masker_lr", "masker_steps", "model_steps_per_masker", "lead_drop_p", "span_min", "span_max",
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
    p.add_argument("--data", type=Path, required=True, help="dataset folder or cache folder")
    p.add_argument("--out", type=Path, required=True, help="run folder (checkpoints, metrics.csv)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint")
    p.add_argument("--recipe", default=None,
                   help="training recipe (encoder, text, schedule, data options; flags override it): ptbxl-cpu")
    p.add_argument("--encoder", default=None, help="override the ECG encoder (e.g. transformer-tiny, resnet18)")
    p.add_argument("--text-model", default=None, help="text encoder: local folder or hub id already cached")
    p.add_argument("--text-kind", choices=("transformers", "hashing"), default=None,
                   help="'hashing' = tiny random text encoder (smoke tests only)")
    p.add_argument("--text-source", choices=("report", "report_en", "statements", "text", "labels"),
                   default=None,
                   help="text paired with each ECG: PTB-XL report | report_en | statements (SCP statement "
                        "descriptions); WFDB folder (incl. synthetic) text | labels (label descriptions)")
    p.add_argument("--fs", type=float, default=None, help="harmonised sampling rate (default 100, or the recipe's)")
    p.add_argument("--seconds", type=float, default=None, help="harmonised length (default 10, or the recipe's)")
    p.add_argument("--cache-root", type=Path, default=Path("runs/cache"), help="where dataset caches go")
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


def run(args) -> int:
    from ecgfoundry.io.store import HarmonizeSpec, open_store
    from ecgfoundry.train.loop import pretrain

    model_cfg, train_cfg = _configs(args)
    recipe_data = getattr(args, "recipe_data", {})
    text_source = args.text_source or recipe_data.get("text_source")
    kw = {"text_source": text_source} if text_source else {}
    fs = args.fs if args.fs is not None else float(recipe_data.get("fs", 100.0))
    seconds = args.seconds if args.seconds is not None else float(recipe_data.get("seconds", 10.0))
    store = open_store(args.data, HarmonizeSpec(fs=fs, seconds=seconds), args.cache_root,
                       progress=not args.no_progress, **kw)
    summary = pretrain(model_cfg, train_cfg, store, args.out, resume=args.resume, progress=not args.no_progress)
    if summary.get("world_size", 1) == 1 or int(__import__("os").environ.get("RANK", "0")) == 0:
        final = summary.get("final", {})
        shown = ", ".join(f"{k} {v:.4f}" for k, v in final.items() if v == v and k in (
            "loss", "align", "consistency", "budget", "mask_rate", "contrastive", "clinical", "byol"))
        print(f"pretrained {model_cfg.name or model_cfg.objective} for {summary['steps']} steps "
              f"({summary.get('samples_per_s', 0):.1f} samples/s on {summary.get('device', '?')}"
              f"{', ' + str(summary['world_size']) + ' processes' if summary.get('world_size', 1) > 1 else ''}); "
              f"{shown}; checkpoint: {summary.get('checkpoint')}")
    return 0
