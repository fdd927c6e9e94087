"""Zero-shot prompts: several clinical phrasings per class, kept in a user-editable JSON file.

The default file ships with the package (``ecgfoundry/data/prompts.json``); pass your own path to
use edited prompts. Layout::

    {
      "format": "ecgfoundry-prompts/1",
      "label_sets": {
        "ptbxl/superdiagnostic": {"NORM": ["normal ECG ...", "..."], "MI": [...], ...},
        "cinc2021/scored": {...},
        ...
      }
    }

A class may instead map to ``{"phrasings": [...], "weights": [...]}``: one positive weight per
phrasing, and the class embedding is the weighted mean of the phrasings' unit embeddings instead of
the plain mean. The packaged PTB-XL super/subdiagnostic classes use it: their phrasings are the SCP
descriptions of the member statements, weighted by how often each statement occurs in the training
folds (1-4), so a class is represented the way its records are made up (HYP is mostly LVH, not in
equal parts LVH, RVH, LAO, RAO and septal hypertrophy). The weights come from training labels only.

Label sets are named ``"<dataset>/<label set>"`` after the readers (``ptbxl``, ``cpsc2018``,
``cinc2021``, ``code15``, ``synthetic``) and their label sets; ``binary/AF`` and ``binary/CD`` serve
the binary tasks of every reader. :func:`prompts_for` also finds a label set by its short name when
that is unambiguous (``"superdiagnostic"``).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Sequence

from ecgfoundry.errors import EcgDataError

PROMPTS_FORMAT = "ecgfoundry-prompts/1"



class Phrasings(list):
    """The phrasings of one class (a list of str) with optional ``weights`` (a list of floats, one per
    phrasing; None = equal weights). :func:`~ecgfoundry.eval.zero_shot.zero_shot_classifier` reads them."""

    def __init__(self, items=(), weights=None):
        super().__init__(items)
        self.weights = None if weights is None else [float(w) for w in weights]


Prompts = dict[str, dict[str, list[str]]]


def default_prompts_path() -> Path:
    """The packaged prompt file."""
    return Path(str(resources.files("ecgfoundry") / "data" / "prompts.json"))


def load_prompts(path: str | Path | None = None) -> Prompts:
    """Read and validate a prompt file: ``{label_set: {class: [phrasing, ...]}}``.

    Raises
    ------
    EcgDataError
        Naming the file and the key that is wrong (bad JSON, missing ``label_sets``, a class with no
        phrasings, a phrasing that is not a non-empty string, a duplicated phrasing).
    """
    path = default_prompts_path() if path is None else Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EcgDataError(path, None, "prompt file not found") from None
    except json.JSONDecodeError as exc:
        raise EcgDataError(path, None, f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise EcgDataError(path, None, "the top level must be a JSON object")
    fmt = data.get("format", PROMPTS_FORMAT)
    if fmt != PROMPTS_FORMAT:
        raise EcgDataError(path, "format", f"unsupported prompt format {fmt!r} (expected {PROMPTS_FORMAT!r})")
    sets = data.get("label_sets")
    if not isinstance(sets, dict) or not sets:
        raise EcgDataError(path, "label_sets", "must be a non-empty object of label set -> {class: [phrasings]}")
    out: Prompts = {}
    for name, classes in sets.items():
        key = f"label_sets.{name}"
        if not isinstance(classes, dict) or not classes:
            raise EcgDataError(path, key, "must be a non-empty object of class -> [phrasings]")
        out[name] = {}
        for cls, phrasings in classes.items():
            ckey = f"{key}.{cls}"
            weights = None
            if isinstance(phrasings, dict):
                unknown = sorted(set(phrasings) - {"phrasings", "weights"})
                if unknown:
                    raise EcgDataError(path, ckey, f"unknown key(s) {unknown}; a class maps to a list of phrasings "
                                                   "or to {'phrasings': [...], 'weights': [...]}")
                weights = phrasings.get("weights")
                phrasings = phrasings.get("phrasings")
                if (not isinstance(weights, list) or not isinstance(phrasings, list) or len(weights) != len(phrasings)
                        or not all(isinstance(w, (int, float)) and not isinstance(w, bool) and w > 0 for w in weights)):
                    raise EcgDataError(path, f"{ckey}.weights", "must be one positive number per phrasing")
            if not isinstance(phrasings, list) or not phrasings:
                raise EcgDataError(path, ckey, "must be a non-empty list of phrasings")
            for i, p in enumerate(phrasings):
                if not isinstance(p, str) or not p.strip():
                    raise EcgDataError(path, f"{ckey}[{i}]", "every phrasing must be a non-empty string")
            if len(set(phrasings)) != len(phrasings):
                raise EcgDataError(path, ckey, "the same phrasing appears twice")
            out[name][cls] = Phrasings([p.strip() for p in phrasings], weights)
    return out


def prompt_key(prompts: Prompts, label_set: str) -> str:
    """The full key of a label set in ``prompts``: itself, or the one key whose short name it is
    (``"form"`` -> ``"ptbxl/form"``). ``KeyError`` names the label set and the choices."""
    if label_set in prompts:
        return label_set
    matches = [k for k in prompts if k.split("/", 1)[-1] == label_set]
    if len(matches) != 1:
        why = "is ambiguous between " + ", ".join(matches) if matches else "has no prompts"
        raise KeyError(f"label set {label_set!r} {why}; prompt label sets: {', '.join(sorted(prompts))}")
    return matches[0]


def prompts_for(prompts: Prompts, label_set: str, classes: Sequence[str]) -> dict[str, list[str]]:
    """The phrasings of ``classes`` (in that order) from one label set of ``prompts``.

    ``label_set`` is a full key (``"ptbxl/form"``) or a short name matching exactly one key
    (``"form"``). Raises ``KeyError`` naming the label set or the classes without prompts.
    """
    key = prompt_key(prompts, label_set)
    missing = [c for c in classes if c not in prompts[key]]
    if missing:
        raise KeyError(f"prompt label set {key!r} has no phrasings for {', '.join(missing)} "
                       f"(add them to the prompt file)")
    return {c: Phrasings(prompts[key][c], getattr(prompts[key][c], "weights", None)) for c in classes}
