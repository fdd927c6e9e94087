"""Search SCAR's masker schedule on the synthetic *validation* split (issue 4, known-answer check 2).

Run:  .venv/bin/python benchmarks/masker_schedule_search.py
      [--steps 1000] [--config "masker.logit_bound=3,train.masker_lr=3e-3" ...]
      [--work runs/masker_search] [--out results/masker_schedule_search.md]

Each ``--config`` is a comma-separated list of overrides of the ``scar`` preset (``masker.FIELD=V``,
``selector.FIELD=V``, ``model.FIELD=V``) or of ``TrainConfig`` (``train.FIELD=V``); an empty string
is the preset as shipped. Every configuration pretrains ``transformer-tiny`` on the train split
(folds 1-8) of the same synthetic data as ``benchmarks/known_answers_pretrain.py`` (3,000 records,
data seed 0) with the same seed, and is scored on the validation split (fold 9) only:

- the masker's evidence ratio (top rho of each record's tokens by gate, eval mode; ratio =
  P(evidence | removed) / P(evidence), over the records whose evidence is localised and over all);
- the zero-shot macro AUROC with the packaged prompts (the masker must not ruin the encoder);
- the masker's logit spread within a record (saturation: a spread far above ``tau`` means gates
  stuck at 0 / 1) and the per-lead mean gate (a fixed lead preference instead of evidence seeking);
- once, as the last rows of the table: the uninformed control of the known-answer script (the top
  rho of tokens, or whole leads, by the signal's standard deviation; no training), the ratio a
  masker has to beat before its removals say anything about the evidence.

The test split (fold 10) is never read here; the chosen schedule is then measured once on it by
``benchmarks/known_answers_pretrain.py``. Finished runs in ``--work`` are reused.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

DEFAULT_CONFIGS = (
    "",
    "masker.logit_bound=3",
    "masker.logit_bound=3,train.masker_lr=3e-3",
    "masker.logit_bound=3,train.masker_steps=3",
    "masker.logit_bound=3,masker.tau=1.0",
    "masker.logit_bound=3,masker.centre=true",
)


def parse_overrides(text: str) -> dict[str, dict[str, object]]:
    """``"masker.tau=1,train.masker_lr=3e-3"`` -> ``{"masker": {"tau": 1.0}, "train": {...}}``."""
    out: dict[str, dict[str, object]] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, raw = part.partition("=")
        section, dot, field = key.partition(".")
        if not sep or not dot or section not in ("masker", "selector", "model", "train"):
            raise SystemExit(f"--config: {part!r} is not SECTION.FIELD=VALUE (sections masker, selector, model, train)")
        try:
            value: object = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.setdefault(section, {})[field] = value
    return out


def slug(text: str) -> str:
    return "preset" if not text else text.replace("masker.", "m-").replace("train.", "t-").replace(
        "selector.", "s-").replace("model.", "").replace(",", "_").replace("=", "")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", action="append", help="overrides (repeat); default: a small built-in grid")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--encoder", default="transformer-tiny")
    p.add_argument("--text-source", choices=("text", "labels"), default="text",
                   help="report text (default) or label descriptions as the paired text")
    p.add_argument("--checkpoint-every", type=int, default=0,
                   help="also keep a checkpoint every N steps and score the masker at each (its trajectory)")
    p.add_argument("--data", type=Path, default=REPO / "runs" / "known_answers" / "synth-n3000-seed0",
                   help="the synthetic folder made by known_answers_pretrain.py (data/ and cache/)")
    p.add_argument("--work", type=Path, default=REPO / "runs" / "masker_search")
    p.add_argument("--out", type=Path, default=REPO / "results" / "masker_schedule_search.md")
    args = p.parse_args(argv)
    configs = args.config if args.config else list(DEFAULT_CONFIGS)
    command = " ".join([".venv/bin/python benchmarks/masker_schedule_search.py"]
                       + [shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)])

    import torch

    from ecgfoundry.checkpoint import load_model
    from ecgfoundry.eval.evidence_ratio import masker_evidence_ratio, uninformed_evidence_ratio
    from ecgfoundry.eval.known_answers import known_answer_split, zero_shot_auroc
    from ecgfoundry.io.store import HarmonizeSpec, open_store
    from ecgfoundry.models.registry import get_model_config
    from ecgfoundry.models.text import build_text_encoder
    from ecgfoundry.train.budget import pretrain_or_reuse
    from ecgfoundry.train.config import TrainConfig
    from ecgfoundry.train.loop import default_text_cache

    if not (args.data / "data" / "evidence.jsonl").exists():
        raise SystemExit(f"{args.data}/data/evidence.jsonl not found: run benchmarks/known_answers_pretrain.py first "
                         "(it generates the synthetic data)")
    store = open_store(args.data / "data", HarmonizeSpec(fs=100.0, seconds=10.0), args.data / "cache", progress=False,
                       **({"text_source": "labels"} if args.text_source == "labels" else {}))
    val = known_answer_split(store, args.data / "data", "val")
    signal, observed = val.signal, val.observed
    print(f"validation split: {len(val.texts)} records", flush=True)

    text_encoder = None
    rows = []
    control = None
    for text in configs:
        ov = parse_overrides(text)
        base = get_model_config("scar", encoder=args.encoder)
        model_cfg = base.replace(
            masker=base.masker.replace(**ov.get("masker", {})),
            selector=base.selector.replace(**ov.get("selector", {})),
            **ov.get("model", {}))
        train_cfg = TrainConfig(steps=args.steps, batch_size=args.batch_size, seed=args.seed,
                                checkpoint_every=args.checkpoint_every or args.steps, log_every=50,
                                **ov.get("train", {}))
        if text_encoder is None:
            text_encoder = build_text_encoder(model_cfg.text.replace(cache_dir=default_text_cache()))
        run = args.work / (f"{slug(text)}-{args.encoder}-steps{args.steps}-seed{args.seed}"
                           + (f"-every{args.checkpoint_every}" if args.checkpoint_every else "")
                           + ("-labeltext" if args.text_source == "labels" else ""))
        done = pretrain_or_reuse(model_cfg, train_cfg, store, run, text_encoder)
        wall, model = done.wall_s, done.model
        ev = val.evidence_tokens(model_cfg.encoder.patch_size)
        ratio = masker_evidence_ratio(model, signal, observed, ev)
        if control is None:  # needs no training: the same for every configuration of this encoder
            control = uninformed_evidence_ratio(signal, ev, ratio["_tobs"], model_cfg.encoder.patch_size,
                                                model_cfg.masker.budget)
        zs = zero_shot_auroc(model, signal, observed, val.labels, val.classes)
        with torch.no_grad():
            mask, _ = model.masker_output(torch.from_numpy(signal), torch.from_numpy(observed))
        logits = mask.logits.numpy()
        lead_gate = mask.gate.numpy().reshape(len(logits), 12, -1).mean((0, 2))
        trajectory = {}
        if args.checkpoint_every:
            for ck in sorted((run / "checkpoints").glob("step_*")):
                m_ck = load_model(ck, text_encoder=text_encoder)
                m_ck.eval()
                r_ck = masker_evidence_ratio(m_ck, signal, observed, ev)["top_rho"]
                trajectory[int(ck.name.split("_")[1])] = round(r_ck["localised"]["ratio"], 3)
            print("trajectory (step: localised ratio):", trajectory, flush=True)
        row = {"config": text or "(scar preset)", "run": str(run.relative_to(REPO) if run.is_relative_to(REPO) else run),
               "ratio_localised": ratio["top_rho"]["localised"]["ratio"],
               "ratio_all": ratio["top_rho"]["all"]["ratio"],
               "max_localised": ratio["top_rho"]["localised"]["max_possible_ratio"],
               "zero_shot_auroc": zs["macro_auroc"],
               "logit_spread_over_tau": float(logits.std(1).mean() / model_cfg.masker.tau),
               "lead_gate_min": float(lead_gate.min()), "lead_gate_max": float(lead_gate.max()),
               "wall_s": round(wall, 1), "trajectory_localised": trajectory}
        rows.append(row)
        print(json.dumps(row), flush=True)

    lines = ["# SCAR masker schedule search (validation split)", "",
             f"Command: `{command}`  ",
             f"Data: the known-answer synthetic set (3,000 records, data seed 0); pretraining on folds 1-8, every figure "
             f"on the {len(val.texts)} validation records (fold 9); the test split is not read. Encoder `{args.encoder}`, "
             f"{args.steps} steps, batch {args.batch_size}, seed {args.seed}; torch {torch.__version__}.", "",
             "| overrides of the `scar` preset | evidence ratio, localised (max) | evidence ratio, all | zero-shot AUROC "
             "| logit spread / tau | per-lead mean gate min-max |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| `{r['config']}` | **{r['ratio_localised']:.2f}** ({r['max_localised']:.2f}) | {r['ratio_all']:.2f} "
                     f"| {r['zero_shot_auroc']:.3f} | {r['logit_spread_over_tau']:.1f} "
                     f"| {r['lead_gate_min']:.2f}-{r['lead_gate_max']:.2f} |")
    if control is not None:
        for unit, label in (("token", "tokens"), ("lead", "whole leads")):
            c = control[unit]
            lines.append(f"| *uninformed control, no training: top ρ of {label} by signal SD* | "
                         f"{c['localised']['ratio']:.2f} [{c['localised']['ratio_ci95'][0]:.2f}, "
                         f"{c['localised']['ratio_ci95'][1]:.2f}] ({c['localised']['max_possible_ratio']:.2f}) | "
                         f"{c['all']['ratio']:.2f} | - | - | - |")
    for r in rows:
        if r["trajectory_localised"]:
            lines += ["", f"Trajectory of `{r['config']}` (evidence ratio on the localised records at each kept "
                      "checkpoint): " + ", ".join(f"step {k}: {v:.2f}" for k, v in r["trajectory_localised"].items())]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    args.out.with_suffix(".json").write_text(json.dumps({"command": command, "rows": rows,
                                                         "uninformed_control": control}, indent=2) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
