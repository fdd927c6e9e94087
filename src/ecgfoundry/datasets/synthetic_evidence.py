"""The synthetic generator's evidence map, read back from a folder and laid onto tokens.

``ecgfoundry synth`` writes, beside each record, where every present condition's diagnostic
evidence lies (``evidence.jsonl``: label, role, leads, sample spans; see
:mod:`ecgfoundry.datasets.synthetic_folder`). The known-answer checks of pretraining ask whether a
masker removes those places; for that the map is read back (:func:`read_evidence`), expanded onto
the lead x time tokens of the encoder's tokenizer (:func:`evidence_tokens`), and reduced to the
leads a condition is confined to (:func:`localised_leads`).

Token geometry is that of :func:`ecgfoundry.models.tokenizer.patchify`: lead-major, token
``l * n_time + p`` is time patch ``p`` of lead ``l``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from ecgfoundry.datasets.synthetic import LEADS, EvidenceItem, evidence_mask
from ecgfoundry.errors import EcgDataError

__all__ = ["read_evidence", "evidence_tokens", "localised_leads"]


def read_evidence(folder: str | Path) -> dict[str, list[EvidenceItem]]:
    """Record id -> its list of :class:`~ecgfoundry.datasets.synthetic.EvidenceItem`, from the
    ``evidence.jsonl`` of a folder written by ``ecgfoundry synth``.

    Raises
    ------
    EcgDataError
        The file is missing, or a line is not JSON or lacks a field (the error names the line).
    """
    path = Path(folder) / "evidence.jsonl"
    if not path.exists():
        raise EcgDataError(path, None, "not found: the folder was not written by `ecgfoundry synth`")
    out: dict[str, list[EvidenceItem]] = {}
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                out[str(d["record"])] = [EvidenceItem.from_json(it) for it in d["evidence"]]
            except json.JSONDecodeError as e:
                raise EcgDataError(path, f"line {n}", f"not JSON ({e.msg})") from None
            except (KeyError, TypeError, ValueError) as e:
                raise EcgDataError(path, f"line {n}", f"not an evidence record ({type(e).__name__}: {e})") from None
    return out


def evidence_tokens(items: Sequence[EvidenceItem], n_samples: int, patch_size: int) -> np.ndarray:
    """Which tokens of one record hold evidence.

    Parameters
    ----------
    items : sequence of EvidenceItem
        One record's evidence map.
    n_samples : int
        Samples per lead of the record the encoder sees.
    patch_size : int
        Samples per token.

    Returns
    -------
    ndarray of shape (12 * n_time,), bool
        Lead-major like the tokenizer: token ``l * n_time + p`` is True when patch ``p`` of lead ``l``
        overlaps a *primary* evidence span of any condition in ``items`` (a last, partial patch is
        padded as the tokenizer pads it).
    """
    from ecgfoundry.models.tokenizer import n_time_patches  # imports torch: only when tokens are asked for

    classes = tuple(sorted({it.label for it in items})) or ("none",)
    ev = evidence_mask(items, n_samples, classes, roles=("primary",)).any(0)  # (12, T)
    n_time = n_time_patches(n_samples, patch_size)
    ev = np.pad(ev, ((0, 0), (0, n_time * patch_size - n_samples)))
    return ev.reshape(len(LEADS), n_time, patch_size).any(-1).reshape(-1)


def localised_leads(items: Sequence[EvidenceItem]) -> list[int]:
    """Sorted lead indices (canonical order) in the union of the primary evidence leads of the
    conditions whose evidence lies in fewer than 12 leads; empty when every condition spans all leads."""
    index = {name: i for i, name in enumerate(LEADS)}
    leads: set[int] = set()
    for it in items:
        if it.role == "primary" and 0 < len(set(it.leads)) < len(LEADS):
            leads |= {index[name] for name in it.leads}
    return sorted(leads)
