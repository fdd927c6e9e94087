"""Patient-wise train / validation / test splits."""

from __future__ import annotations

import hashlib
from typing import Mapping, Sequence

import numpy as np

DEFAULT_FOLDS: Mapping[str, tuple[int, ...]] = {"train": tuple(range(1, 9)), "val": (9,), "test": (10,)}
"""The PTB-XL recommendation: folds 1-8 train, 9 validation, 10 test."""


def splits_from_folds(folds: Sequence[int], mapping: Mapping[str, Sequence[int]] = DEFAULT_FOLDS
                      ) -> np.ndarray:
    """Split names from fold numbers; folds named in no split get ``"unused"``.

    >>> splits_from_folds([1, 9, 10, 3]).tolist()
    ['train', 'val', 'test', 'train']
    """
    folds = np.asarray(folds)
    out = np.full(len(folds), "unused", dtype=object)
    seen: set[int] = set()
    for name, members in mapping.items():
        overlap = seen.intersection(members)
        if overlap:
            raise ValueError(f"fold(s) {sorted(overlap)} assigned to more than one split")
        seen.update(members)
        out[np.isin(folds, list(members))] = name
    return out


def parse_fold_mapping(text: str) -> dict[str, tuple[int, ...]]:
    """Parse ``"train=1-8,val=9,test=10"`` into a fold mapping (CLI flag ``--folds``)."""
    mapping: dict[str, tuple[int, ...]] = {}
    for part in text.replace(" ", "").split(";" if ";" in text else ","):
        if not part:
            continue
        if "=" not in part:
            raise ValueError(f"--folds: expected NAME=FOLDS, got {part!r}")
        name, spec = part.split("=", 1)
        if name not in {"train", "val", "test"}:
            raise ValueError(f"--folds: split must be train, val or test, got {name!r}")
        folds: list[int] = []
        for chunk in spec.split("+"):
            if "-" in chunk:
                lo, hi = chunk.split("-", 1)
                folds += list(range(int(lo), int(hi) + 1))
            else:
                folds.append(int(chunk))
        mapping[name] = tuple(folds)
    return mapping


def group_splits(groups: Sequence[str], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
                 seed: int = 0) -> np.ndarray:
    """Assign whole groups (patients) to train / val / test, reproducibly.

    Each group gets a uniform number from a hash of ``(seed, group)``, so the assignment of a patient
    does not depend on which other records are present.
    """
    if len(fractions) != 3 or abs(sum(fractions) - 1) > 1e-6 or min(fractions) < 0:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    cuts = np.cumsum(fractions)
    out = np.empty(len(groups), dtype=object)
    for i, g in enumerate(groups):
        h = hashlib.blake2b(f"{seed}:{g}".encode(), digest_size=8).digest()
        u = int.from_bytes(h, "little") / 2**64
        out[i] = "train" if u < cuts[0] else ("val" if u < cuts[1] else "test")
    return out
