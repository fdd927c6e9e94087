"""The canonical 12-lead order and matching of lead names from files onto it."""

from __future__ import annotations

import re

import numpy as np

LEADS: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
"""Canonical lead order used everywhere in ecgfoundry."""

LEAD_INDEX: dict[str, int] = {name: i for i, name in enumerate(LEADS)}

# Spellings met in real files, normalised (upper case, no spaces / dashes / "lead" prefix).
_ALIASES: dict[str, str] = {
    "I": "I", "II": "II", "III": "III", "AVR": "aVR", "AVL": "aVL", "AVF": "aVF",
    "V1": "V1", "V2": "V2", "V3": "V3", "V4": "V4", "V5": "V5", "V6": "V6",
    "MLI": "I", "MLII": "II", "MLIII": "III", "DI": "I", "DII": "II", "DIII": "III",
    "1": "I", "2": "II", "3": "III",
}


def canonical_lead_name(name: str) -> str | None:
    """Return the canonical name of a lead label from a file, or None if it is not a 12-lead name.

    >>> canonical_lead_name("AVF"), canonical_lead_name(" lead v2 "), canonical_lead_name("Pleth")
    ('aVF', 'V2', None)
    """
    key = re.sub(r"[\s_\-]", "", str(name)).upper()
    if key.startswith("LEAD"):
        key = key[4:]
    return _ALIASES.get(key)


def lead_permutation(names: list[str] | tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Map file lead names onto canonical positions.

    Returns ``(src, dst)`` index arrays so that ``out[dst] = data[src]`` puts every recognised lead
    in its canonical row. Unrecognised names raise ``KeyError`` with the name; a lead given twice
    raises ``ValueError``. Leads absent from ``names`` are simply not in ``dst``.
    """
    src, dst, seen = [], [], {}
    for i, raw in enumerate(names):
        canon = canonical_lead_name(raw)
        if canon is None:
            raise KeyError(raw)
        if canon in seen:
            raise ValueError(f"lead {canon!r} appears twice (columns {seen[canon]} and {i})")
        seen[canon] = i
        src.append(i)
        dst.append(LEAD_INDEX[canon])
    return np.asarray(src, dtype=int), np.asarray(dst, dtype=int)
