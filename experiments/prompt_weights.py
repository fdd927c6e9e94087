"""Write the packaged PTB-XL super/subdiagnostic prompts: each class's phrasings are the SCP descriptions
of its member statements, weighted by 1 + the number of TRAINING records (folds 1-4) carrying the statement
(add-one, so a statement absent from the training folds keeps a small weight). Validation and test folds
are not read.

    .venv/bin/python experiments/prompt_weights.py --data ../shared/data/ptbxl
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

PROMPTS = Path(__file__).resolve().parents[1] / "src" / "ecgfoundry" / "data" / "prompts.json"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/data/ptbxl")
    args = p.parse_args()
    from ecgfoundry.io.ptbxl import PTBXL

    ds = PTBXL(args.data, text_source="statements")
    train = ds.table[ds.table["split"] == "train"]
    assert set(train["fold"]) <= {1, 2, 3, 4, 5, 6, 7, 8}, "training folds only"
    counts = collections.Counter(c for codes in train["codes"] for c in codes)
    st = ds.statements
    diag = st[st["diagnostic"].fillna(0).astype(float) == 1]
    data = json.loads(PROMPTS.read_text())
    for col, key in (("diagnostic_class", "ptbxl/superdiagnostic"), ("diagnostic_subclass", "ptbxl/subdiagnostic")):
        classes = {}
        for cls in data["label_sets"][key]:
            members = list(diag.index[diag[col] == cls])
            descs = [str(st.loc[m, "description"]) for m in members]
            assert len(set(descs)) == len(descs), (key, cls)
            classes[cls] = {"phrasings": descs, "weights": [1 + counts[m] for m in members]}
        data["label_sets"][key] = classes
    PROMPTS.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {PROMPTS}: weights from {len(train)} training records (folds {sorted(set(train['fold']))})")


if __name__ == "__main__":
    main()
