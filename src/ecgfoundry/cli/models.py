"""``ecgfoundry models``: the shipped pretrained models (``list``, ``show NAME``)."""

from __future__ import annotations

import argparse

EXAMPLE = """examples:
  ecgfoundry models list
  ecgfoundry models show ptbxl-clip
  ecgfoundry predict --model ptbxl-clip ../shared/data/cinc2021/HR06001.hea
  ecgfoundry evaluate --model ptbxl-clip --data ../shared/data/ptbxl --protocol zeroshot,probe --out runs/eval-shipped
A shipped name works wherever a run folder does (--model in evaluate, bench, report, predict) and in
Python: ecgfoundry.load_pretrained(NAME).
"""


def register(sub) -> None:
    p = sub.add_parser("models", help="list and describe the shipped pretrained models",
                       description=__doc__, epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    inner = p.add_subparsers(dest="models_command", metavar="ACTION")
    lst = inner.add_parser("list", help="the shipped models with their data and headline metrics")
    lst.set_defaults(func=run_list)
    show = inner.add_parser("show", help="the model card of one shipped model")
    show.add_argument("name")
    show.set_defaults(func=run_show)
    p.set_defaults(func=run_list)


def _fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else ("—" if value is None else str(value))


def run_list(args) -> int:
    from ecgfoundry.pretrained import list_pretrained, pretrained_card, pretrained_folder

    names = list_pretrained()
    if not names:
        print("no shipped models in this build")
        return 0
    rows = []
    for name in names:
        card = pretrained_card(name)
        m = card.get("metrics", {})
        size = (pretrained_folder(name) / "model.safetensors").stat().st_size / 1e6
        rows.append((name, card.get("objective", "?"), card.get("encoder", "?"), card.get("text_source", "?"),
                     _fmt(m.get("zero_shot_auroc")), _fmt(m.get("probe_auroc_100")), f"{size:.1f} MB"))
    head = ("name", "objective", "encoder", "text", "zero-shot AUROC", "probe AUROC (100 %)", "size")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip())
    card = pretrained_card(names[0])
    if card.get("evaluated_on"):
        print(f"metrics: {card['evaluated_on']}")
    print("details: ecgfoundry models show NAME")
    return 0


def run_show(args) -> int:
    from ecgfoundry.pretrained import pretrained_folder

    folder = pretrained_folder(args.name)
    card = folder / "MODEL_CARD.md"
    print(card.read_text() if card.exists() else f"{args.name}: no model card")
    print(f"folder: {folder}")
    return 0
