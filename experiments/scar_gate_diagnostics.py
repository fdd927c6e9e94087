"""What SCAR's trained masker does to a resnet-cpu model, on validation records (fold 9).

    .venv/bin/python experiments/scar_gate_diagnostics.py runs/r2-scar/checkpoints/step_0000750 \
        [--n 256] [--out results/pretrained/scar_gate_diagnostics.json]

- The gates g of the masker in training mode (logistic noise on, as the model step sees them) and in
  eval mode: mean, quantiles, the share of tokens nearly kept (g < 0.1) or nearly removed (g > 0.9),
  and the mean scale ``1 - g`` the kept features get (inference uses 1).
- How far removal moves the projected embedding, mean cos(masked view, full view): the masker's
  gates; 30 % of the resnet's time tokens removed at random (what ``scar-randmask-mean`` trains
  with); 30 % of (lead, 1-second) input patches zeroed and unobserved (input-level removal).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("--data", default="../shared/data/ptbxl")
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    from ecgfoundry.checkpoint import load_model
    from ecgfoundry.io.store import HarmonizeSpec, open_store

    torch.manual_seed(args.seed)
    m = load_model(args.model).eval()
    s = open_store(args.data, HarmonizeSpec(fs=100.0, seconds=10.0), progress=False)
    b = s.batch(s.split_indices("val")[:args.n], "superdiagnostic")
    x, o = torch.as_tensor(b.signal), torch.as_tensor(b.observed)
    res: dict = {"model": args.model, "n_val_records": int(len(x)), "seed": args.seed}
    with torch.no_grad():
        xt, tobs = m.encoder.embed_tokens(x, o)
        full = F.normalize(m.ecg_proj(m.pool(m.encoder.encode_tokens(xt, tobs), tobs)), dim=-1)

        def cos(keep_log):
            e = F.normalize(m.ecg_proj(m.pool(m.encoder.encode_tokens(xt, tobs, keep_log), tobs, keep_log)), dim=-1)
            return float((e * full).sum(-1).mean())

        for mode in ("train", "eval"):
            m.masker.train(mode == "train")
            out, _ = m.masker_output(x, o)
            g = out.gate[tobs.bool()].numpy()
            res[f"gates_{mode}"] = {"tokens_per_record": int(tobs.shape[1]), "mean": float(g.mean()),
                                    "quantiles_5_25_50_75_95": np.round(np.quantile(g, [.05, .25, .5, .75, .95]), 4).tolist(),
                                    "share_below_0.1": float((g < 0.1).mean()), "share_above_0.9": float((g > 0.9).mean()),
                                    "mean_keep_scale": float((1 - g).mean()), "cos_masked_full": cos(out.keep_log)}
        m.masker.eval()
        gen = torch.Generator().manual_seed(args.seed)
        rem = (torch.rand(tobs.shape, generator=gen) < 0.3) & tobs.bool()
        res["cos_random_30pct_time_tokens"] = cos(torch.zeros(tobs.shape).masked_fill(rem, float("-inf")))
        drop = (torch.rand(len(x), 12, 10, generator=gen) < 0.3).repeat_interleave(x.shape[-1] // 10, dim=2)
        e_in = F.normalize(m.encode_ecg(x.masked_fill(drop, 0.0), o & ~drop), dim=-1)
        res["cos_random_30pct_lead_second_patches_input"] = float((e_in * full).sum(-1).mean())
    print(json.dumps(res, indent=1))
    if args.out:
        args.out.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
