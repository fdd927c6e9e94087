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
            if not isinstance(phrasings, list) or not phrasings:
                raise EcgDataError(path, ckey, "must be a non-empty list of phrasings")
            for i, p in enumerate(phrasings):
                if not isinstance(p, str) or not p.strip():
                    raise EcgDataError(path, f"{ckey}[{i}]", "every phrasing must be a non-empty string")
            if len(set(phrasings)) != len(phrasings):
                raise EcgDataError(path, ckey, "the same phrasing appears twice")
            out[name][cls] = [p.strip() for p in phrasings]
    return out


def prompts_for(prompts: Prompts, label_set: str, classes: Sequence[str]) -> dict[str, list[str]]:
    """The phrasings of ``classes`` (in that order) from one label set of ``prompts``.

    ``label_set`` is a full key (``"ptbxl/form"``) or a short name matching exactly one key
    (``"form"``). Raises ``KeyError`` naming the label set or the classes without prompts.
    """
    if label_set in prompts:
        key = label_set
    else:
        matches = [k for k in prompts if k.split("/", 1)[-1] == label_set]
        if len(matches) != 1:
            why = "is ambiguous between " + ", ".join(matches) if matches else "has no prompts"
            raise KeyError(f"label set {label_set!r} {why}; prompt label sets: {', '.join(sorted(prompts))}")
        key = matches[0]
    missing = [c for c in classes if c not in prompts[key]]
    if missing:
        raise KeyError(f"prompt label set {key!r} has no phrasings for {', '.join(missing)} "
                       f"(add them to the prompt file)")
    return {c: list(prompts[key][c]) for c in classes}
