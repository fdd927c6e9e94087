"""The two containers every part of ecgfoundry passes around: one record and a batch of records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ecgfoundry.signals.leads import LEADS


@dataclass
class EcgRecord:
    """One ECG in canonical form, as a reader returns it.

    Attributes
    ----------
    signal : ndarray of shape (12, T), float32, millivolts
        Canonical lead order; unobserved samples are 0.
    observed : ndarray of shape (12, T), bool
        True where the sample was measured.
    fs : float
        Sampling rate in Hz.
    record_id : str
        Identity within its dataset (e.g. the PTB-XL ``ecg_id`` or the challenge record name).
    dataset : str
        Dataset name (``"ptbxl"``, ``"cinc2021"``, ...).
    patient_id : str or None
        Patient identity where the source has one.
    labels : tuple of str
        The source's own label codes present in the record (SCP codes, SNOMED codes, ...).
    text : str or None
        Free-text report where the source has one.
    meta : dict
        Other metadata (age, sex, fold, source file, ...).
    """

    signal: np.ndarray
    observed: np.ndarray
    fs: float
    record_id: str
    dataset: str
    patient_id: str | None = None
    labels: tuple[str, ...] = ()
    text: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.signal.ndim != 2 or self.signal.shape[0] != len(LEADS):
            raise ValueError(f"record {self.record_id}: signal must be (12, T), got {self.signal.shape}")
        if self.observed.shape != self.signal.shape or self.observed.dtype != bool:
            raise ValueError(f"record {self.record_id}: observed must be a bool array shaped like signal")
        if not (self.fs > 0):
            raise ValueError(f"record {self.record_id}: fs must be positive, got {self.fs}")

    @property
    def n_samples(self) -> int:
        return int(self.signal.shape[1])

    @property
    def seconds(self) -> float:
        return self.n_samples / self.fs


@dataclass
class EcgBatch:
    """A batch of equally long ECGs in canonical form.

    Attributes
    ----------
    signal : ndarray (or Tensor) of shape (N, 12, T), float32
    observed : ndarray (or Tensor) of shape (N, 12, T), bool
    fs : float, Hz
    labels : ndarray of shape (N, K) or None
        Multi-hot targets over ``classes``.
    classes : tuple of str
        Ordered class names of ``labels``.
    texts : list of str or None
        Reports, one per record.
    ids : list of str
        ``"dataset/record_id"`` for every record, so predictions trace back to files.
    meta : dict of str -> ndarray of length N
        Optional per-record metadata (``age``, ``sex``, ``patient_id``, ...).
    """

    signal: Any
    observed: Any
    fs: float
    labels: np.ndarray | None = None
    classes: tuple[str, ...] = ()
    texts: list[str] | None = None
    ids: list[str] = field(default_factory=list)
    meta: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.signal)
        if tuple(self.signal.shape[1:2]) != (len(LEADS),) or len(self.signal.shape) != 3:
            raise ValueError(f"signal must be (N, 12, T), got {tuple(self.signal.shape)}")
        if tuple(self.observed.shape) != tuple(self.signal.shape):
            raise ValueError("observed must have the shape of signal")
        if self.labels is not None:
            if self.labels.ndim != 2 or len(self.labels) != n:
                raise ValueError(f"labels must be (N, K) with N={n}, got {self.labels.shape}")
            if self.labels.shape[1] != len(self.classes):
                raise ValueError(f"labels have {self.labels.shape[1]} columns but {len(self.classes)} classes")
        if self.texts is not None and len(self.texts) != n:
            raise ValueError(f"texts has {len(self.texts)} entries for {n} records")
        if self.ids and len(self.ids) != n:
            raise ValueError(f"ids has {len(self.ids)} entries for {n} records")

    def __len__(self) -> int:
        return len(self.signal)

    def __repr__(self) -> str:
        """One line: sizes, rate, classes and the first ids (the arrays are not printed)."""
        n, _, t = tuple(self.signal.shape)
        kind = "Tensor" if type(self.signal).__module__.startswith("torch") else "ndarray"
        classes = ", ".join(self.classes[:6]) + (f", ... ({len(self.classes)})" if len(self.classes) > 6 else "")
        ids = ", ".join(self.ids[:2]) + (", ..." if len(self.ids) > 2 else "")
        extra = [f"classes=[{classes}]" if self.classes else "labels=None",
                 f"texts={'yes' if self.texts is not None else 'None'}"]
        if self.ids:
            extra.append(f"ids=[{ids}]")
        if self.meta:
            extra.append(f"meta=[{', '.join(self.meta)}]")
        return f"EcgBatch(N={n}, leads=12, T={t}, fs={self.fs:g} Hz, {kind}, " + ", ".join(extra) + ")"

    def __getitem__(self, index: slice | Sequence[int] | np.ndarray) -> "EcgBatch":
        """Sub-batch by slice, integer indices or boolean mask."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        idx = np.arange(len(self))[index]
        return EcgBatch(
            signal=self.signal[idx],
            observed=self.observed[idx],
            fs=self.fs,
            labels=None if self.labels is None else self.labels[idx],
            classes=self.classes,
            texts=None if self.texts is None else [self.texts[i] for i in idx],
            ids=[self.ids[i] for i in idx] if self.ids else [],
            meta={k: np.asarray(v)[idx] for k, v in self.meta.items()},
        )

    @classmethod
    def from_records(cls, records: Sequence[EcgRecord], classes: Sequence[str] = (),
                     labels: np.ndarray | None = None) -> "EcgBatch":
        """Stack equally long records with the same ``fs`` (harmonise them first)."""
        if not records:
            raise ValueError("no records to batch")
        fs = records[0].fs
        lengths = {r.n_samples for r in records}
        if len(lengths) != 1 or any(r.fs != fs for r in records):
            raise ValueError("records differ in fs or length; resample and crop/pad them first "
                             "(ecgfoundry.signals) or use the dataset cache")
        texts = [r.text or "" for r in records]
        return cls(
            signal=np.stack([r.signal for r in records]).astype(np.float32, copy=False),
            observed=np.stack([r.observed for r in records]),
            fs=fs,
            labels=labels,
            classes=tuple(classes),
            texts=texts if any(texts) else None,
            ids=[f"{r.dataset}/{r.record_id}" for r in records],
        )
