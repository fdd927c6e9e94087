"""Batches for pretraining: ECGs from a dataset cache, paired with their report text, sharded by rank."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from ecgfoundry.io.store import ArrayStore


@dataclass
class TextBatch:
    signal: torch.Tensor      # (B, 12, T) float32
    observed: torch.Tensor    # (B, 12, T) bool
    texts: list[str]
    index: np.ndarray         # rows of the store
    meta: dict[str, np.ndarray] | None = None  # requested metadata columns (CLEF), one value per record


class PretrainData:
    """ECG–report pairs of one split of an :class:`ArrayStore`.

    Records without report text cannot be paired and are left out; how many is reported in
    ``notes`` (never silently). ECG-only objectives pass ``require_text=False`` and keep every
    record. ``meta_columns`` (CLEF's metadata) are read from the store's table into each batch's
    ``meta``; a column the table lacks is noted and left out (the model treats it as missing).
    Every rank sees the same seeded permutation per epoch and takes every ``world_size``-th record
    of it, so ranks never share a record within an epoch.
    """

    def __init__(self, store: ArrayStore, split: str = "train", seed: int = 0, require_text: bool = True,
                 meta_columns: tuple[str, ...] | list[str] = ()):
        self.store = store
        rows = np.arange(len(store)) if split == "all" else store.split_indices(split)
        texts = store.table["text"].fillna("").astype(str).to_numpy()
        has_text = np.array([bool(t.strip()) or not require_text for t in texts[rows]], dtype=bool)
        self.notes: list[str] = []
        self.meta_columns = [c for c in meta_columns if c in store.table.columns]
        for c in meta_columns:
            if c not in store.table.columns:
                self.notes.append(f"metadata column {c!r} is not in {store.path / 'records.csv'}: "
                                  f"it is missing for every record")
        if not has_text.all():
            self.notes.append(f"{int((~has_text).sum())} of {len(rows)} {split} records have no report text "
                              f"and are left out of pretraining")
        self.rows = rows[has_text]
        if len(self.rows) == 0:
            raise ValueError(f"{store.path}: no {split} record has report text to pretrain on "
                             f"(for PTB-XL, cache it with --text-source statements or report_en)")
        self.texts = texts
        self.seed = seed

    def __len__(self) -> int:
        return len(self.rows)

    def unique_texts(self) -> list[str]:
        return sorted(set(self.texts[self.rows].tolist()))

    def batches(self, batch_size: int, rank: int = 0, world_size: int = 1, start_batch: int = 0,
                device: torch.device | str = "cpu") -> Iterator[TextBatch]:
        """Endless iterator of batches (drop-last per epoch; reshuffled every epoch).

        ``start_batch`` skips that many batches (resuming yields the batches an uninterrupted run
        would have seen next).
        """
        per_rank = len(self.rows) // world_size
        if per_rank < batch_size:
            raise ValueError(f"{len(self.rows)} pretraining records give {per_rank} per process, fewer "
                             f"than batch_size={batch_size}: lower --batch-size or add data")
        per_epoch = per_rank // batch_size
        epoch, skip = divmod(start_batch, per_epoch)
        while True:
            perm = np.random.default_rng([self.seed, epoch]).permutation(self.rows)
            mine = perm[rank::world_size][:per_rank]
            for a in range(skip * batch_size, per_epoch * batch_size, batch_size):
                idx = mine[a:a + batch_size]
                b = self.store.batch(idx, with_labels=False)
                meta = ({c: self.store.table[c].to_numpy()[idx] for c in self.meta_columns}
                        if self.meta_columns else None)
                yield TextBatch(torch.from_numpy(b.signal).to(device, non_blocking=True),
                                torch.from_numpy(b.observed).to(device, non_blocking=True),
                                [self.texts[i] for i in idx], idx, meta)
            epoch, skip = epoch + 1, 0
