"""``ecgfoundry evaluate``: zero-shot metrics clean and under lead / temporal / joint missingness
(random and hard masks) with CMRS, the linear probe at 1 / 10 / 100 %, adversarial robustness
(FGSM / PGD, and SCAR's masker as a test-time attack). ``--protocol`` picks the parts.
Writes metrics.json, report.md, CSV tables and PNG figures into ``--out`` and prints the tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXAMPLE = """protocols (comma-separated, default zeroshot,stress):
  zeroshot     zero-shot AUROC / AUPRC / F1 on the full view (prompts from the prompt file)
  stress       zero-shot under lead / temporal / joint missingness (rand, hard) with CMRS
  probe        linear probe on the frozen encoder at 1 / 10 / 100 % of the training split
  adversarial  FGSM / PGD against the zero-shot (and probe) head; the SCAR masker as an attack
  all          every one of them
examples:
  ecgfoundry evaluate --model runs/scar --data runs/synth --protocol zeroshot --out runs/eval-zs
  ecgfoundry reference train --data runs/synth --label-set synthetic --out runs/ref-synth
  ecgfoundry evaluate --model runs/scar --data runs/synth --label-set synthetic --reference runs/ref-synth \\
      --missingness lead,temporal,joint --mode rand,hard --seed 0 --n-boot 1000 --out runs/eval-scar
  ecgfoundry evaluate --model runs/scar --data runs/synth --label-set synthetic --reference runs/ref-synth \\
      --linear-probe --adversarial fgsm,pgd --eps 0.01,0.05 --out runs/eval-scar-full
  ecgfoundry evaluate --model runs/simclr --data runs/synth --protocol probe,stress,adversarial --out runs/eval-simclr
ECG-only models (SimCLR, MoCo, BYOL, CLEF) have no text encoder, so no zero-shot: their linear probe
(100 %% of the training split) is the head that stress and adversarial evaluate.
without --reference a reference (--reference-encoder, default resnet18) is trained first and saved
to OUT/reference; reuse it with --reference OUT/reference.
"""


def _relative_or_name(path, out: Path) -> str:
    """A path relative to the output folder (so the folders can move together and the report finds
    them from any directory); a shipped model's name stays a name."""
    import os

    p = Path(path)
    return os.path.relpath(p.resolve(), out.resolve()) if p.exists() else str(path)


def _csv(kind):
    def parse(text: str):
        try:
            return tuple(kind(x.strip()) for x in text.split(",") if x.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}") from None
    return parse


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="zero-shot / probe / missingness (CMRS) / adversarial evaluation",
                       description=__doc__, epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True, help="run folder or checkpoint folder (ecgfoundry pretrain)")
    p.add_argument("--data", type=Path, required=True, help="dataset folder or cache folder")
    p.add_argument("--protocol", type=_csv(str), default=None,
                   help="zeroshot,stress,probe,adversarial or all (default zeroshot,stress; probe,stress for an "
                        "ECG-only model, whose head is the linear probe)")
    p.add_argument("--label-set", default=None, help="label set (default: the dataset's default)")
    p.add_argument("--out", type=Path, required=True, help="folder for metrics.json and report.md (a new one)")
    p.add_argument("--overwrite", action="store_true", help="replace the results in an existing --out")
    p.add_argument("--reference", type=Path, default=None,
                   help="reference classifier folder (ecgfoundry reference train); default: train one")
    p.add_argument("--reference-encoder", default="resnet18", help="encoder of a reference trained here")
    p.add_argument("--reference-epochs", type=int, default=30, help="epochs of a reference trained here")
    p.add_argument("--missingness", type=_csv(str), default=("lead", "temporal", "joint"),
                   help="missingness types: lead,temporal,joint (default all)")
    p.add_argument("--mode", type=_csv(str), default=("rand", "hard"), help="mask modes: rand,hard (default both)")
    p.add_argument("--n-candidates", type=int, default=16,  # eval.stress.N_CANDIDATES
                   help="candidate placements per record for hard masks, the rand. one included (default 16)")
    p.add_argument("--seed", type=int, default=0, help="masks, bootstrap, probes (default 0)")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for CIs (default 1000; 0 = none)")
    p.add_argument("--prompts", type=Path, default=None, help="prompt file (default: the packaged prompts.json)")
    p.add_argument("--linear-probe", action="store_true", help="also train linear probes at 1/10/100 %%")
    p.add_argument("--probe-missingness", type=_csv(str), default=(),
                   help="also train the 100 %% probe under Rand. masks of these types (lead,temporal,joint) and "
                        "test it under the stress test's masks (--mode); implies the probe protocol")
    p.add_argument("--adversarial", type=_csv(str), default=(),
                   help="attacks: fgsm,pgd (default none; fgsm,pgd with --protocol adversarial)")
    p.add_argument("--attack-masker", type=Path, default=None,
                   help="SCAR run whose masker attacks (default: the model's own, if it has one)")
    p.add_argument("--attack-records", type=int, default=None,
                   help="run FGSM / PGD on a seeded random subset of this many test records (default all)")
    p.add_argument("--attack-budget", type=float, default=None, help="masker attack budget rho (default: the masker's)")
    p.add_argument("--eps", type=_csv(float), default=(0.01, 0.05), help="attack budgets (default 0.01,0.05)")
    p.add_argument("--eps-unit", choices=("mV", "std"), default="mV", help="unit of --eps (default mV)")
    p.add_argument("--norm", choices=("linf", "l2"), default="linf", help="attack norm (default linf)")
    p.add_argument("--pgd-steps", type=int, default=10,
                   help="PGD steps, at least 10 (default 10; step 2.5 eps / steps from a random start)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--fs", type=float, default=100.0, help="harmonised sampling rate (default 100)")
    p.add_argument("--seconds", type=float, default=10.0, help="harmonised length (default 10)")
    p.add_argument("--cache-root", type=Path, default=None,
                   help="where dataset caches go (default: $ECGFOUNDRY_CACHE/stores, else ~/.cache/ecgfoundry/stores)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from ecgfoundry.checkpoint import load_model, resolve_checkpoint
    from ecgfoundry.cli.main import UsageError
    from ecgfoundry.eval.protocol import EvaluateOptions, run_evaluation
    from ecgfoundry.eval.reference import ReferenceConfig, load_reference, train_reference
    from ecgfoundry.io.store import HarmonizeSpec, open_store

    from ecgfoundry.eval.protocol import has_text

    progress = not args.no_progress
    protocols = set(args.protocol or ("zeroshot", "stress"))
    known = {"zeroshot", "stress", "probe", "adversarial", "all"}
    if protocols - known:
        raise UsageError(f"--protocol: unknown {', '.join(sorted(protocols - known))}",
                         hint="choose from zeroshot, stress, probe, adversarial, all")
    if "all" in protocols:
        protocols = known - {"all"}
    if args.out.exists() and any(args.out.iterdir()) and not args.overwrite:
        raise FileExistsError(f"{args.out} already exists and is not empty (pass --overwrite to replace its "
                              "results, or choose another --out)")
    checkpoint = resolve_checkpoint(args.model)
    model = load_model(checkpoint)
    head = "zero_shot"
    if not has_text(model):  # checked against what the model can do before any work starts
        kind = getattr(model.cfg, "objective", None) or type(model).__name__
        if args.protocol is not None and "zeroshot" in args.protocol and "all" not in args.protocol:
            raise UsageError(f"{args.model}: a {kind} model is ECG-only (no text encoder), so it has no zero-shot",
                             hint="use --protocol probe, stress or adversarial: the linear probe is their head")
        protocols.discard("zeroshot")
        if args.protocol is None:
            protocols = {"probe", "stress"}
        protocols.add("probe")
        head = "linear_probe"
        print(f"note: {kind} is an ECG-only model: evaluating its linear probe "
              f"({', '.join(sorted(protocols))})", file=sys.stderr)
    stress = "stress" in protocols
    attacks = args.adversarial or (("fgsm", "pgd") if "adversarial" in protocols else ())
    attacker = load_model(resolve_checkpoint(args.attack_masker)) if args.attack_masker is not None else None
    masker_attack = "adversarial" in protocols and (attacker is not None or model.has_adversary)
    if args.attack_masker is not None and not attacker.has_adversary:
        raise UsageError(f"{args.attack_masker}: this model has no adversarial masker",
                         hint="--attack-masker takes a SCAR run (preset scar, scar-advmask-*)")
    if masker_attack:  # checked before any work: a conv encoder's masker has no place on the signal grid
        from ecgfoundry.eval.masker_attack import masker_attack_unsupported

        why = masker_attack_unsupported(attacker if attacker is not None else model)
        if why is not None and args.attack_masker is not None:
            raise UsageError(f"{args.attack_masker}: {why}", hint="--attack-masker takes a transformer SCAR run")
        if why is not None:
            print(f"note: no masker attack: {why}", file=sys.stderr)
            masker_attack = False
    try:
        opts = EvaluateOptions(label_set=args.label_set, kinds=args.missingness if stress else (),
                               modes=args.mode if stress else (), seed=args.seed,
                               n_boot=args.n_boot, n_candidates=args.n_candidates,
                               prompts=str(args.prompts) if args.prompts else None,
                               linear_probe=args.linear_probe or "probe" in protocols or bool(args.probe_missingness),
                               probe_missingness=args.probe_missingness,
                               attacks=attacks, eps=args.eps, eps_unit=args.eps_unit, norm=args.norm,
                               pgd_steps=args.pgd_steps, masker_attack=masker_attack,
                               attack_budget=args.attack_budget, attack_records=args.attack_records,
                               batch_size=args.batch_size, progress=progress, head=head)
    except ValueError as exc:
        raise UsageError(str(exc), hint="see `ecgfoundry evaluate --help`") from None
    store = open_store(args.data, HarmonizeSpec(fs=args.fs, seconds=args.seconds), args.cache_root, progress=progress)
    if abs(store.fs - model.cfg.encoder.fs) > 1e-6:
        raise UsageError(f"{store.path}: data is at {store.fs:g} Hz but the model expects {model.cfg.encoder.fs:g} Hz",
                         hint=f"pass --fs {model.cfg.encoder.fs:g}")
    if args.reference is not None:
        reference = load_reference(args.reference)
    elif not stress:
        reference = None
    else:
        folder = args.out / "reference"
        print(f"no --reference: training a {args.reference_encoder} reference into {folder}", file=sys.stderr)
        reference = train_reference(store, args.label_set, ReferenceConfig(encoder=args.reference_encoder,
                                                                           epochs=args.reference_epochs,
                                                                           seed=args.seed),
                                    out=folder, progress=progress)
    argv = getattr(args, "argv", None)
    info = {**{k: _relative_or_name(p, args.out) for k, p in (("model", args.model), ("checkpoint", checkpoint),
                                                              ("data", args.data))},
            "paths_relative_to": "this folder (absolute in *_absolute)",
            **{f"{k}_absolute": str(Path(p).resolve()) for k, p in (("model", args.model), ("checkpoint", checkpoint),
                                                                    ("data", args.data)) if Path(p).exists()},
            "command": "ecgfoundry " + " ".join(map(str, argv if argv is not None else sys.argv[1:]))}
    args.out.mkdir(parents=True, exist_ok=True)
    result = run_evaluation(model, store, opts, reference, out=args.out, info=info, attacker=attacker)
    print(result.report)
    print(f"wrote {args.out / 'metrics.json'}, report.md, CSV tables and figures into {args.out}")
    return 0
