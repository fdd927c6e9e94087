"""How far PTB-XL's real reports are from the class prompts, raw and with the glossary (no ECG involved).

    .venv/bin/python experiments/report_glossary_check.py [--data ../shared/data/ptbxl] [--out FILE.json]

Two measures, both with the packaged text encoder (all-MiniLM-L6-v2, each text the mean of its
sentences' unit embeddings, as the ``ptbxl-cpu`` recipe embeds reports):

1. **Against human translations** (``reports_en_fold10.csv``, 500 fold-10 records): the mean cosine
   between the embedding of the human English translation and that of the raw report, and that of
   the glossary translation (:mod:`ecgfoundry.io.report_glossary`).
2. **Text-only zero-shot oracle** on the validation fold 9 (superdiagnostic, packaged prompts): each
   record's own text scored against the class prompt embeddings, macro AUROC. It is the ceiling an
   ECG encoder perfectly aligned with that text could reach, for each text source (SCP statement
   descriptions, raw report, glossary report). Records without a text are left out (counted).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/data/ptbxl")
    p.add_argument("--split", default="val", help="split of the oracle (default val: fold 9)")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()

    from ecgfoundry.eval.metrics import macro_auroc
    from ecgfoundry.eval.prompts import load_prompts, prompts_for
    from ecgfoundry.eval.zero_shot import zero_shot_classifier
    from ecgfoundry.io.report_glossary import translate_report
    from ecgfoundry.io.store import HarmonizeSpec, open_store
    from ecgfoundry.io.tables import read_table
    from ecgfoundry.models.config import TextConfig
    from ecgfoundry.models.text import build_text_encoder

    text = build_text_encoder(TextConfig(pooling="sentences"))

    def embed(texts: list[str]) -> np.ndarray:
        e = np.concatenate([np.asarray(text.encode(texts[a:a + 256]), np.float32) for a in range(0, len(texts), 256)])
        return e / np.linalg.norm(e, axis=1, keepdims=True).clip(1e-12)

    result: dict = {"data": args.data}
    # 1. against the human translations
    store = open_store(args.data, HarmonizeSpec(fs=100.0, seconds=10.0), text_source="report", progress=False)
    report = dict(zip(store.table["record_id"].astype(str), store.table["text"]))
    en = read_table(Path(args.data) / "reports_en_fold10.csv", required=("ecg_id", "report_en"))
    pairs = [(report.get(str(int(e)), ""), str(t)) for e, t in zip(en["ecg_id"], en["report_en"])
             if report.get(str(int(e)), "")]
    raw, human = [a for a, _ in pairs], [b for _, b in pairs]
    glossary = [translate_report(a) or "" for a in raw]
    h = embed(human)
    result["human_translation"] = {
        "n": len(pairs),
        "cos_raw_vs_human": float(np.mean(np.sum(embed(raw) * h, axis=1))),
        "cos_glossary_vs_human": float(np.mean(np.sum(embed(glossary) * h, axis=1))),
    }
    # 2. text-only zero-shot oracle
    oracle = {}
    for source in ("statements", "report", "report_glossary"):
        s = open_store(args.data, HarmonizeSpec(fs=100.0, seconds=10.0), text_source=source, progress=False)
        batch = s.batch(s.split_indices(args.split), "superdiagnostic")
        texts = list(batch.texts or [])
        keep = np.array([bool(t) for t in texts])
        shim = type("TextOnly", (), {"encode_text": staticmethod(lambda ts: text.encode(list(ts)))})()
        cls = zero_shot_classifier(shim, batch.classes, prompts_for(load_prompts(), "superdiagnostic", batch.classes))
        scores = embed([t for t, k in zip(texts, keep) if k]) @ cls.numpy().T
        score = macro_auroc(batch.labels[keep], scores, batch.classes)
        oracle[source] = {"macro_auroc": float(score.value),
                          "per_class": {c: float(v) for c, v in zip(score.classes, score.per_class)},
                          "n": int(keep.sum()), "n_without_text": int((~keep).sum())}
    result["text_only_zero_shot"] = {"split": args.split, "label_set": "superdiagnostic", **oracle}
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
