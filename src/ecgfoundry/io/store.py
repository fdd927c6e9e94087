"""The dataset cache: harmonise a dataset once into memory-mapped arrays plus a metadata table, so
training and benchmarks never parse WFDB / .mat / HDF5 twice.

Layout of a store folder::

    store.json        what is inside: fs, n_samples, crop mode, label sets + classes, source, skips
    signal.npy        float32 (N, 12, T), millivolts, memory-mapped on read
    observed.npy      bool (N, 12, T)
    records.csv       one row per record: record_id, patient_id, split, codes, text, meta columns
    labels_<set>.npy  float32 (N, K) multi-hot for every label set of the source
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ecgfoundry.batch import EcgBatch
from ecgfoundry.errors import EcgDataError
from ecgfoundry.io.base import SPLITS, RecordSource
from ecgfoundry.signals.leads import LEADS

STORE_VERSION = 1
CROP_MODES = ("first", "center")
_CODE_SEP = ";"


@dataclass(frozen=True)
class HarmonizeSpec:
    """How records are harmonised into the store.

    Attributes
    ----------
    fs : float
        Target sampling rate in Hz (polyphase resampling).
    seconds : float
        Target length; shorter records are padded (unobserved), longer ones cropped.
    crop : {"first", "center"}
        Which part of a longer record to keep ("first" = the first ``seconds``, the SCAR protocol).
    """

    fs: float = 100.0
    seconds: float = 10.0
    crop: str = "first"

    def __post_init__(self) -> None:
        if not self.fs > 0:
            raise ValueError(f"fs must be positive, got {self.fs}")
        if not self.seconds > 0:
            raise ValueError(f"seconds must be positive, got {self.seconds}")
        if self.crop not in CROP_MODES:
            raise ValueError(f"crop must be one of {CROP_MODES}, got {self.crop!r}")

    @property
    def n_samples(self) -> int:
        return int(round(self.fs * self.seconds))


def harmonize(signal: np.ndarray, observed: np.ndarray, fs: float, spec: HarmonizeSpec
              ) -> tuple[np.ndarray, np.ndarray]:
    """Resample one ``(12, T)`` record to ``spec.fs`` and crop/pad it to ``spec.n_samples``."""
    from ecgfoundry.signals.crop_pad import crop_pad
    from ecgfoundry.signals.resample import resample

    if abs(fs - spec.fs) > 1e-9:
        signal, observed = resample(signal, observed, fs, spec.fs)
    return crop_pad(signal, observed, spec.n_samples, mode=spec.crop)


def build_store(source: RecordSource, out: str | Path, spec: HarmonizeSpec = HarmonizeSpec(),
                errors: str = "skip", progress: bool = True, overwrite: bool = False,
                info: dict | None = None) -> "ArrayStore":
    """Read every record of ``source``, harmonise it and write a store folder at ``out``.

    The store is written to a temporary folder beside ``out`` and renamed at the end, so an
    interrupted run never leaves a half-written store that looks complete. Unreadable records are
    skipped (``errors="skip"``) and listed in ``store.json`` under ``skipped``; ``errors="raise"``
    stops at the first one. ``info`` adds entries to ``store.json`` (the format and reader options
    :func:`open_store` built it with).
    """
    extra_info = dict(info or {})
    out = Path(out)
    if out.exists():
        if not overwrite:
            raise FileExistsError(f"{out} already exists (pass overwrite=True / --overwrite to replace it)")
        shutil.rmtree(out)
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    n, t = len(source), spec.n_samples
    if n == 0:
        raise EcgDataError(source.root, None, "the dataset has no records")
    start = time.perf_counter()
    sig = np.lib.format.open_memmap(tmp / "signal.npy", mode="w+", dtype=np.float32, shape=(n, len(LEADS), t))
    obs = np.lib.format.open_memmap(tmp / "observed.npy", mode="w+", dtype=bool, shape=(n, len(LEADS), t))
    kept, orig_fs, orig_len = [], [], []
    source.problems.clear()
    for row, rec in source.iter_records(errors=errors, progress=progress,
                                        description=f"caching {source.name}"):
        s, o = harmonize(rec.signal, rec.observed, rec.fs, spec)
        k = len(kept)
        sig[k], obs[k] = s, o
        kept.append(row)
        orig_fs.append(rec.fs)
        orig_len.append(rec.n_samples)
    m = len(kept)
    if m == 0:
        shutil.rmtree(tmp)
        raise EcgDataError(source.root, None, "no record could be read:\n" + source.problem_summary())
    sig.flush(), obs.flush()
    if m < n:  # shrink the arrays to the records that were read
        for name, arr, dtype in (("signal", sig, np.float32), ("observed", obs, bool)):
            small = np.lib.format.open_memmap(tmp / f"{name}.tmp.npy", mode="w+", dtype=dtype,
                                              shape=(m, len(LEADS), t))
            for a in range(0, m, 512):
                b = min(a + 512, m)
                small[a:b] = arr[a:b]
            small.flush()
            del small
            (tmp / f"{name}.tmp.npy").replace(tmp / f"{name}.npy")
    del sig, obs

    table = source.table.iloc[kept].reset_index(drop=True).copy()
    table["codes"] = [_CODE_SEP.join(c) for c in table["codes"]]
    table["orig_fs"] = orig_fs
    table["orig_samples"] = orig_len
    table.to_csv(tmp / "records.csv", index=False)
    label_sets = {}
    for name, ls in source.label_sets.items():
        y = ls.encode([tuple(c.split(_CODE_SEP)) if c else () for c in table["codes"]])
        np.save(tmp / f"labels_{name}.npy", y)
        label_sets[name] = {"classes": list(ls.classes), "description": ls.description}
    info = {
        **extra_info,
        "ecgfoundry_store": STORE_VERSION,
        "dataset": source.name,
        "reader": type(source).__name__,
        "source": str(Path(source.root).resolve()),
        "fs": spec.fs, "seconds": spec.seconds, "n_samples": t, "crop": spec.crop,
        "leads": list(LEADS),
        "n_records": m,
        "default_label_set": source.default_label_set if source.label_sets else None,
        "label_sets": label_sets,
        "skipped": [{"record_id": p.record_id, "path": p.path, "message": p.message, "stage": p.stage}
                    for p in list(source.row_problems) + list(source.problems)],
        "notes": list(getattr(source, "notes", [])),
        "build_seconds": round(time.perf_counter() - start, 3),
        "text_source": getattr(source, "text_source", None),
    }
    (tmp / "store.json").write_text(json.dumps(info, indent=2))
    tmp.rename(out)
    return ArrayStore(out)


class ArrayStore:
    """A harmonised dataset on disk (see the module docstring), memory-mapped.

    Parameters
    ----------
    path : str or Path
        A folder written by :func:`build_store` (``ecgfoundry data cache``).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        meta = self.path / "store.json"
        if not meta.exists():
            raise EcgDataError(self.path, "store.json", "not a dataset cache (build one with `ecgfoundry data cache`)")
        try:
            self.info = json.loads(meta.read_text())
        except json.JSONDecodeError as exc:
            raise EcgDataError(meta, None, f"corrupt JSON ({exc})") from None
        if self.info.get("ecgfoundry_store") != STORE_VERSION:
            raise EcgDataError(meta, "ecgfoundry_store", f"unsupported store version {self.info.get('ecgfoundry_store')}")
        self.fs = float(self.info["fs"])
        self._labels: dict[str, np.ndarray] = {}
        self.name = self.info["dataset"]
        self.signal = self._load("signal.npy")
        self.observed = self._load("observed.npy")
        n = self.info["n_records"]
        shape = (n, len(LEADS), self.info["n_samples"])
        for name, arr in (("signal.npy", self.signal), ("observed.npy", self.observed)):
            if arr.shape != shape:
                raise EcgDataError(self.path / name, "shape", f"{arr.shape}, store.json says {shape}")
        self.text_source = self.info.get("text_source")
        self.table = pd.read_csv(self.path / "records.csv", dtype={"record_id": str, "patient_id": str,
                                                                    "codes": str, "text": str},
                                 keep_default_na=False, na_values={"age": [""], "fold": [""]})
        if len(self.table) != n:
            raise EcgDataError(self.path / "records.csv", None, f"{len(self.table)} rows, store.json says {n}")

    def use_texts(self, text_source: str) -> None:
        """Pair the records with the texts of ``text_source`` from ``texts/SOURCE.csv`` (written by
        :func:`attach_texts`); records that file lacks get no text."""
        p = self.path / "texts" / f"{text_source}.csv"
        if not p.exists():
            raise EcgDataError(p, None, f"no texts of {text_source!r} in this cache")
        t = pd.read_csv(p, dtype={"record_id": str, "text": str}, keep_default_na=False)
        if not {"record_id", "text"} <= set(t.columns):
            raise EcgDataError(p, "record_id", "needs the columns record_id and text")
        texts = dict(zip(t["record_id"], t["text"]))
        self.table["text"] = [texts.get(r, "") for r in self.table["record_id"].astype(str)]
        self.text_source = text_source

    def _load(self, name: str) -> np.ndarray:
        p = self.path / name
        if not p.exists():
            raise EcgDataError(p, None, "missing from the store")
        try:
            return np.load(p, mmap_mode="r")
        except ValueError as exc:
            raise EcgDataError(p, None, f"corrupt or truncated array ({exc})") from None

    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        return f"ArrayStore({str(self.path)!r}, dataset={self.name}, records={len(self)}, fs={self.fs})"

    @property
    def label_set_names(self) -> list[str]:
        return list(self.info["label_sets"])

    def labels(self, label_set: str | None = None) -> tuple[np.ndarray, tuple[str, ...]]:
        """Multi-hot ``(N, K)`` labels and class names of a label set."""
        name = label_set or self.info.get("default_label_set")
        if name not in self.info["label_sets"]:
            raise KeyError(f"{self.path}: unknown label set {name!r}; available: {', '.join(self.label_set_names) or 'none'}")
        if name not in self._labels:
            self._labels[name] = np.load(self.path / f"labels_{name}.npy")
        return self._labels[name], tuple(self.info["label_sets"][name]["classes"])

    def split_indices(self, split: str) -> np.ndarray:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return np.flatnonzero(self.table["split"].to_numpy() == split)

    def batch(self, indices=None, label_set: str | None = None, with_labels: bool = True) -> EcgBatch:
        """Load records into memory as an :class:`EcgBatch` (all records when ``indices`` is None)."""
        idx = np.arange(len(self)) if indices is None else np.asarray(indices)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        order = np.argsort(idx, kind="stable")  # sorted reads are faster on a memmap
        sorted_idx = idx[order]
        inv = np.empty_like(order)
        inv[order] = np.arange(len(order))
        signal = np.asarray(self.signal[sorted_idx])[inv]
        observed = np.asarray(self.observed[sorted_idx])[inv]
        labels, classes = (None, ())
        if with_labels and self.info["label_sets"]:
            y, classes = self.labels(label_set)
            labels = y[idx]
        texts = self.table["text"].iloc[idx].tolist()
        meta = {c: self.table[c].to_numpy()[idx] for c in ("age", "sex", "patient_id", "split")
                if c in self.table.columns}
        return EcgBatch(signal=signal, observed=observed, fs=self.fs, labels=labels, classes=classes,
                        texts=texts if any(texts) else None,
                        ids=[f"{self.name}/{r}" for r in self.table["record_id"].iloc[idx]], meta=meta)


def store_name(path: Path, fmt: str, spec: HarmonizeSpec, reader_kwargs: dict) -> str:
    """The cache folder name of a dataset folder: its name, format and harmonisation, and a hash of
    the resolved path, the harmonisation and the reader options (the text source excluded: texts
    are kept apart from signals, in the store's ``texts/`` folder)."""
    import hashlib

    key = json.dumps([str(path.resolve()), fmt, spec.fs, spec.seconds, spec.crop,
                      sorted((k, str(v)) for k, v in reader_kwargs.items())])
    return f"{path.resolve().name}-{fmt}-{spec.fs:g}hz-{spec.seconds:g}s-{hashlib.sha1(key.encode()).hexdigest()[:8]}"


def _legacy_store(path: Path, fmt: str, spec: HarmonizeSpec, reader_kwargs: dict) -> Path | None:
    """A cache built before caches moved out of the current directory (``./runs/cache``, keyed
    with the text source): reused when present, so existing caches are not built again."""
    from ecgfoundry.cache import LEGACY_STORES

    old = LEGACY_STORES / store_name(path, fmt, spec, reader_kwargs)
    return old if (old / "store.json").exists() else None


def _announce(message: str, enabled: bool) -> None:
    if enabled:
        import sys

        print(message, file=sys.stderr)


def attach_texts(store: "ArrayStore", text_source: str, announce: bool = True) -> "ArrayStore":
    """Pair ``store``'s records with the texts of ``text_source`` (PTB-XL ``report`` /
    ``report_en`` / ``statements``; a WFDB folder's ``text`` / ``labels``).

    The texts of a source are written once into ``STORE/texts/SOURCE.csv`` (record_id, text) from
    the dataset folder the store was built from, and read from there afterwards; the signals are
    shared by every text source.

    Raises
    ------
    EcgDataError
        The store holds other texts and its dataset folder is not there to read them from.
    """
    if store.info.get("text_source") == text_source:
        return store
    texts_csv = store.path / "texts" / f"{text_source}.csv"
    if not texts_csv.exists():
        source_dir = Path(store.info["source"]) if store.info.get("source") else None
        if source_dir is None or not source_dir.is_dir():
            built = store.info.get("text_source") or "the reader's default"
            raise EcgDataError(store.path, "text_source",
                               f"this cache holds the texts of {built}, not {text_source!r}, and the dataset "
                               f"it was built from ({store.info.get('source')}) is not there to read them: "
                               f"pass the dataset folder as --data, or drop --text-source")
        from ecgfoundry.io.detect import open_dataset

        fmt = store.info.get("format")
        options = dict(store.info.get("reader_options") or {})
        try:
            reader = open_dataset(source_dir, fmt, text_source=text_source, **options)
        except ValueError as exc:
            raise EcgDataError(store.path, "text_source", str(exc)) from None
        table = reader.table[["record_id", "text"]].copy()
        table["record_id"] = table["record_id"].astype(str)
        table["text"] = table["text"].fillna("").astype(str)
        texts_csv.parent.mkdir(parents=True, exist_ok=True)
        tmp = texts_csv.with_name(texts_csv.name + ".tmp")
        table.to_csv(tmp, index=False)
        tmp.replace(texts_csv)
        _announce(f"texts ({text_source}) of {store.path.name}: {texts_csv}", announce)
    store.use_texts(text_source)
    return store


def open_store(path: str | Path, spec: HarmonizeSpec = HarmonizeSpec(), cache_root: str | Path | None = None,
               format: str | None = None, progress: bool = True, announce: bool = True,
               **reader_kwargs) -> ArrayStore:
    """An :class:`ArrayStore` for ``path``: the store itself when ``path`` is a cache folder, else the
    cache of that dataset folder under ``cache_root`` (built on first use, keyed by the dataset's
    resolved path, the harmonisation and the reader options).

    ``cache_root`` defaults to :func:`ecgfoundry.cache.stores_dir` (``$ECGFOUNDRY_CACHE/stores``,
    or the user cache folder), never the current directory; the cache used is printed to stderr
    (``announce``). A ``text_source`` keyword does not key the signals: the store is built once
    per harmonisation and each source's texts are attached from ``STORE/texts/``
    (:func:`attach_texts`). Under ``torchrun`` only rank 0 builds; the other ranks wait for it.
    """
    import os

    path = Path(path)
    text_source = reader_kwargs.pop("text_source", None)
    if (path / "store.json").exists():
        store = ArrayStore(path)  # the user named the cache: nothing to announce
        return attach_texts(store, text_source, announce) if text_source else store
    from ecgfoundry.io.detect import detect_format, open_dataset

    fmt = format or detect_format(path)
    if cache_root is None:
        legacy = _legacy_store(path, fmt, spec, {**reader_kwargs, **({"text_source": text_source}
                                                                      if text_source else {})})
        if legacy is not None:
            store = ArrayStore(legacy)
            _announce(f"dataset cache: {legacy.resolve()} (built before caches moved to "
                      f"{_stores_dir()})", announce)
            return store
        cache_root = _stores_dir()
    out = Path(cache_root) / store_name(path, fmt, spec, reader_kwargs)
    if not (out / "store.json").exists():
        if int(os.environ.get("RANK", "0")) != 0:
            deadline = time.time() + 3600
            while not (out / "store.json").exists():
                if time.time() > deadline:
                    raise TimeoutError(f"rank {os.environ.get('RANK')}: waited an hour for rank 0 to build {out}")
                time.sleep(1.0)
        else:
            _announce(f"dataset cache: building {out.resolve()}", announce)
            source = open_dataset(path, fmt, **reader_kwargs)
            Path(cache_root).mkdir(parents=True, exist_ok=True)
            build_store(source, out, spec, progress=progress,
                        info={"format": fmt, "reader_options": {k: v for k, v in reader_kwargs.items()
                                                                if isinstance(v, (str, int, float, bool))}})
            if source.problems or source.row_problems:
                print(source.problem_summary())
    else:
        _announce(f"dataset cache: {out.resolve()}", announce)
    store = ArrayStore(out)
    return attach_texts(store, text_source, announce) if text_source else store


def _stores_dir() -> Path:
    from ecgfoundry.cache import stores_dir

    return stores_dir()
