"""Save the untrained initialisation of a preset under a recipe as a checkpoint folder: the
"untrained encoder of the same architecture" row of results/pretrained (evaluate it like any run).

    .venv/bin/python experiments/untrained_checkpoint.py --preset clip --recipe ptbxl-cpu --seed 0 --out runs/untrained-clip
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="clip")
    p.add_argument("--recipe", default="ptbxl-cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    import torch

    from ecgfoundry.checkpoint import save_checkpoint
    from ecgfoundry.models.registry import create_model, get_model_config
    from ecgfoundry.train.config import TrainConfig
    from ecgfoundry.train.recipe import apply_recipe

    cfg, train, _ = apply_recipe(args.recipe, get_model_config(args.preset))
    torch.manual_seed(args.seed)  # the same seeding as the trainer, so this is step 0 of that run
    model = create_model(cfg)
    save_checkpoint(args.out, model, TrainConfig.from_dict({**train, "seed": args.seed}), None, 0)
    print(f"wrote the untrained {args.preset} ({args.recipe}, seed {args.seed}) to {args.out}")


if __name__ == "__main__":
    main()
