"""``ecgfoundry reference``: train the full-view reference classifier F used by hard masks and CMRS."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLE = """examples:
  ecgfoundry synth --n 5000 --out runs/synth
  ecgfoundry reference train --data runs/synth --label-set synthetic --out runs/ref-synth
  ecgfoundry reference train --data ../shared/data/ptbxl --label-set superdiagnostic --out runs/ref-ptbxl --epochs 30
  ecgfoundry evaluate --model runs/scar --data runs/synth --label-set synthetic --reference runs/ref-synth --out runs/eval
"""


def register(sub) -> None:
    from ecgfoundry.eval.reference import ReferenceConfig

    p = sub.add_parser("reference", help="train the reference classifier F (for hard masks and CMRS)",
                       description=__doc__, epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    rsub = p.add_subparsers(dest="reference_command", metavar="ACTION")
    t = rsub.add_parser("train", help="train a 1-D ResNet classifier on the training split",
                        description="Train a full-view 1-D ResNet + linear head (BCE, AdamW) on the training "
                                    "split; keep the epoch with the best validation macro AUROC.",
                        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = ReferenceConfig()
    t.add_argument("--data", type=Path, required=True, help="dataset folder or cache folder")
    t.add_argument("--label-set", default=None, help="label set (default: the dataset's default)")
    t.add_argument("--out", type=Path, required=True, help="folder for reference.json + model.safetensors")
    t.add_argument("--encoder", default=d.encoder, help=f"registered resnet1d encoder (default {d.encoder})")
    t.add_argument("--epochs", type=int, default=d.epochs, help=f"maximum epochs (default {d.epochs})")
    t.add_argument("--batch-size", type=int, default=d.batch_size, help=f"(default {d.batch_size})")
    t.add_argument("--lr", type=float, default=d.lr, help=f"AdamW learning rate (default {d.lr})")
    t.add_argument("--weight-decay", type=float, default=d.weight_decay, help=f"(default {d.weight_decay})")
    t.add_argument("--patience", type=int, default=d.patience,
                   help=f"epochs without a better validation AUROC before stopping (default {d.patience})")
    t.add_argument("--seed", type=int, default=d.seed, help=f"(default {d.seed})")
    t.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda when available)")
    t.add_argument("--fs", type=float, default=100.0, help="harmonised sampling rate (default 100)")
    t.add_argument("--seconds", type=float, default=10.0, help="harmonised length (default 10)")
    t.add_argument("--cache-root", type=Path, default=None,
                   help="where dataset caches go (default: $ECGFOUNDRY_CACHE/stores, else ~/.cache/ecgfoundry/stores)")
    t.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(func=run_train)


def run_train(args) -> int:
    from ecgfoundry.cli.main import UsageError
    from ecgfoundry.eval.reference import ReferenceConfig, train_reference
    from ecgfoundry.io.store import HarmonizeSpec, open_store

    if args.out.exists() and any(args.out.iterdir()) and not args.overwrite:
        raise UsageError(f"{args.out} already exists", hint="pass --overwrite to replace it, or choose another --out")
    cfg = ReferenceConfig(encoder=args.encoder, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          weight_decay=args.weight_decay, patience=args.patience, seed=args.seed)
    store = open_store(args.data, HarmonizeSpec(fs=args.fs, seconds=args.seconds), args.cache_root,
                       progress=not args.no_progress)
    ref = train_reference(store, args.label_set, cfg, out=args.out, device=args.device, progress=not args.no_progress)
    print(f"trained reference {cfg.encoder} on {ref.info['n_train']} {store.name} records "
          f"({len(ref.classes)} classes, {ref.info['label_set']}): best epoch {ref.info['best_epoch']} of "
          f"{len(ref.info['history'])}, validation macro AUROC {ref.info['val_auroc']:.3f}; saved to {args.out}")
    return 0
