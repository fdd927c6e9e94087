"""The datasets a benchmark runs on: dataset caches, split by source where a folder mixes several.

A PhysioNet/CinC challenge folder holds records from several institutions (Georgia,
Chapman-Shaoxing, PTB-XL at 500 Hz, ...); the reader records each record's ``source``. With
``split_sources=True`` (``ecgfoundry bench --split-sources``) every dataset whose cache has more
than one source becomes one dataset per source, named ``<dataset>:<source>``
(``cinc2021:Georgia``); datasets with a single source (or no source column) stay whole.

With ``holdout`` (``ecgfoundry bench --holdout ptbxl``) a dataset keeps only the records outside its
``train`` split and is named ``<dataset>:val+test``: the records an encoder was pretrained on are
not used to judge it.

:class:`StoreView` is the subset of a store that such a dataset is: it offers what the benchmark
uses of an :class:`~ecgfoundry.io.store.ArrayStore` (``name``, ``table``, ``labels``, ``batch``,
``label_set_names``, ``info``, ``fs``), reading through to the parent's memory-mapped arrays.

Rates: every embedding source sees the data at its own native rate and window (an external model
at the rate it was pretrained on, our checkpoints at theirs). :class:`DatasetsByRate` opens the
``--data`` entries once per ``(fs, seconds)`` a source asks for (one harmonised dataset cache per
rate, built from the original files), and :func:`band_limit_notes` says when a source runs above
the rate a dataset was recorded at (its signal then holds nothing above the recording's Nyquist
frequency). A cache folder named directly keeps its own rate on disk and is resampled on read
(:class:`ResampledStore`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

SOURCE_COLUMN = "source"


class StoreView:
    """Records ``indices`` of ``store`` as a dataset named ``name``.

    Parameters
    ----------
    store : ArrayStore
    indices : array of int
        Rows of ``store`` (kept in this order).
    name : str
    """

    def __init__(self, store: Any, indices: np.ndarray, name: str):
        self.store = store
        self.indices = np.asarray(indices, dtype=int)
        self.name = name
        self.table = store.table.iloc[self.indices].reset_index(drop=True)
        self.fs = store.fs
        self.path = store.path
        self.info = store.info

    def __len__(self) -> int:
        return len(self.indices)

    def __repr__(self) -> str:
        return f"StoreView({self.name!r}, records={len(self)}, of={self.store!r})"

    @property
    def label_set_names(self) -> list[str]:
        return list(self.store.label_set_names)

    def labels(self, label_set: str | None = None) -> tuple[np.ndarray, tuple[str, ...]]:
        y, classes = self.store.labels(label_set)
        return np.asarray(y)[self.indices], classes

    def batch(self, indices=None, label_set: str | None = None, with_labels: bool = True):
        idx = np.arange(len(self)) if indices is None else np.asarray(indices)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        b = self.store.batch(self.indices[idx], label_set=label_set, with_labels=with_labels)
        b.ids = [f"{self.name}/{r}" for r in self.table["record_id"].iloc[idx]]
        return b


class ResampledStore:
    """A store read at another rate and length: every batch is harmonised on read.

    Used when ``--data`` names a cache folder (fixed rate on disk) that a source needs at another
    ``(fs, seconds)``. The ``orig_fs`` column becomes the rate the signal was actually available at
    (the lower of the recording's and the cache's), so :func:`band_limit_notes` sees the cache's
    band limit.

    Parameters
    ----------
    store : ArrayStore
    spec : HarmonizeSpec
    """

    def __init__(self, store: Any, spec: Any):
        self.store = store
        self.spec = spec
        self.name = store.name
        self.fs = float(spec.fs)
        self.path = store.path
        self.info = {**store.info, "fs": float(spec.fs), "seconds": float(spec.seconds),
                     "n_samples": spec.n_samples, "resampled_from": {"fs": float(store.fs),
                                                                    "seconds": store.info.get("seconds")}}
        table = store.table.copy()
        orig = table["orig_fs"].astype(float) if "orig_fs" in table.columns else float(store.fs)
        table["orig_fs"] = np.minimum(orig, float(store.fs))
        self.table = table

    def __len__(self) -> int:
        return len(self.store)

    def __repr__(self) -> str:
        return f"ResampledStore({self.store!r}, fs={self.spec.fs:g}, seconds={self.spec.seconds:g})"

    @property
    def label_set_names(self) -> list[str]:
        return list(self.store.label_set_names)

    def labels(self, label_set: str | None = None):
        return self.store.labels(label_set)

    def batch(self, indices=None, label_set: str | None = None, with_labels: bool = True):
        from dataclasses import replace

        from ecgfoundry.io.store import harmonize

        b = self.store.batch(indices, label_set=label_set, with_labels=with_labels)
        sig, obs = np.asarray(b.signal), np.asarray(b.observed)
        out = [harmonize(s, o, float(b.fs), self.spec) for s, o in zip(sig, obs)]
        signal = np.stack([x[0] for x in out]).astype(np.float32) if out else sig[..., :0]
        observed = np.stack([x[1] for x in out]).astype(bool) if out else obs[..., :0]
        return replace(b, signal=signal, observed=observed, fs=self.fs)


def split_by_source(store: Any) -> dict[str, Any]:
    """``{"<name>:<source>": StoreView}`` for every source of ``store``; ``{name: store}`` when it has one.

    Sources are listed in order of first appearance. Records whose source is blank form
    ``<name>:unknown``.
    """
    table = store.table
    if SOURCE_COLUMN not in table.columns:
        return {store.name: store}
    sources = table[SOURCE_COLUMN].fillna("").astype(str).replace("", "unknown").to_numpy()
    names = list(dict.fromkeys(sources))
    if len(names) < 2:
        return {store.name: store}
    return {f"{store.name}:{s}": StoreView(store, np.flatnonzero(sources == s), f"{store.name}:{s}")
            for s in names}


SYNTHETIC = "synthetic"


def synthetic_folder(root: str | Path, n: int, seed: int, fs: float = 100.0, seconds: float = 10.0,
                     progress: bool = True) -> Path:
    """The synthetic default dataset (``ecgfoundry synth``) under ``root``, generated on first use."""
    from ecgfoundry.datasets.synthetic import SyntheticConfig
    from ecgfoundry.datasets.synthetic_folder import write_synthetic_folder

    folder = Path(root) / f"synthetic-n{n}-seed{seed}-{fs:g}hz-{seconds:g}s"
    if (folder / "records.csv").exists() and (folder / "synthetic.json").exists():
        return folder
    write_synthetic_folder(folder, SyntheticConfig(n=n, fs=fs, seconds=seconds, seed=seed), overwrite=True,
                           progress=progress)
    return folder


HOLDOUT_SUFFIX = ":val+test"


def holdout_view(ds: Any) -> StoreView:
    """The records of ``ds`` outside its ``train`` split, named ``<name>:val+test``.

    For datasets an encoder was pretrained on: probing the pretraining records would measure
    memorisation (and, with label-derived report text, label leakage), not the representation.
    """
    table = ds.table
    if "split" not in table.columns:
        raise ValueError(f"{ds.name}: no split column, so its training records cannot be left out")
    keep = np.flatnonzero(table["split"].astype(str).to_numpy() != "train")
    if not len(keep):
        raise ValueError(f"{ds.name}: every record is in the train split")
    base = getattr(ds, "indices", None)
    store = ds.store if isinstance(ds, StoreView) else ds
    return StoreView(store, keep if base is None else base[keep], ds.name + HOLDOUT_SUFFIX)


def open_datasets(paths: list[str], fs: float, seconds: float, cache_root: str | Path, split_sources: bool,
                  synthetic_root: str | Path, synthetic_n: int = 2000, seed: int = 0, progress: bool = True,
                  holdout: Sequence[str] = (), synthetic_fs: float | None = None
                  ) -> tuple[dict[str, Any], list[dict]]:
    """Open every ``--data`` entry as harmonised stores (``fs``, ``seconds``), split by source if asked.

    ``"synthetic"`` (when no such folder exists) is the synthetic default, generated under
    ``synthetic_root`` at ``synthetic_fs`` (default ``fs``) and harmonised to ``fs``. Datasets named
    in ``holdout`` (by the dataset's name, before or after the source split) keep only their records
    outside the ``train`` split (:func:`holdout_view`). A cache folder at another rate or length is
    read through a :class:`ResampledStore`.

    Returns
    -------
    datasets : dict name -> ArrayStore or StoreView
    info : one dict per dataset (name, path, store, records, sources)
    """
    from ecgfoundry.io.store import HarmonizeSpec, open_store

    spec = HarmonizeSpec(fs=fs, seconds=seconds)
    out: dict[str, Any] = {}
    info: list[dict] = []
    for entry in paths:
        path = Path(entry)
        if entry == SYNTHETIC and not path.exists():
            path = synthetic_folder(synthetic_root, synthetic_n, seed, synthetic_fs or fs, seconds, progress)
        store = open_store(path, spec, cache_root, progress=progress)
        if abs(float(store.fs) - spec.fs) > 1e-6 or store.info.get("n_samples") != spec.n_samples:
            store = ResampledStore(store, spec)
        parts = split_by_source(store) if split_sources else {store.name: store}
        if holdout:
            parts = {(n + HOLDOUT_SUFFIX if n in holdout or store.name in holdout else n):
                     (holdout_view(d) if n in holdout or store.name in holdout else d) for n, d in parts.items()}
        for name, ds in parts.items():
            if name in out:
                raise ValueError(f"two datasets are named {name!r} ({entry} and an earlier --data entry)")
            out[name] = ds
            info.append({"dataset": name, "data": entry, "path": str(path), "store": str(store.path),
                         "records": len(ds), "fs": float(store.fs), "seconds": float(seconds)})
    return out, info


class DatasetsByRate:
    """The ``--data`` entries, harmonised once per ``(fs, seconds)`` that a source asks for (cached).

    Parameters
    ----------
    paths, cache_root, split_sources, synthetic_root, synthetic_n, seed, progress, holdout
        As for :func:`open_datasets`.
    fs, seconds : float
        Rate and length for sources that declare none (``source.fs`` / ``source.seconds`` None).
    synthetic_fs : float, optional
        Rate the synthetic default is generated at, once, whatever rates it is then harmonised to
        (give the highest rate any source needs).

    Examples
    --------
    ``by_rate.for_source(adapter)`` is ``by_rate.at(adapter.fs, adapter.seconds)``: every dataset
    name, each harmonised at that rate and length; ``by_rate.at(500, 10)`` twice opens them once.
    """

    def __init__(self, paths: Sequence[str], cache_root: str | Path | None, split_sources: bool,
                 synthetic_root: str | Path, synthetic_n: int = 2000, seed: int = 0, progress: bool = True,
                 holdout: Sequence[str] = (), fs: float = 100.0, seconds: float = 10.0,
                 synthetic_fs: float | None = None):
        self.paths, self.cache_root, self.split_sources = list(paths), cache_root, split_sources
        self.synthetic_root, self.synthetic_n, self.seed = synthetic_root, synthetic_n, seed
        self.progress, self.holdout = progress, tuple(holdout)
        self.fs, self.seconds, self.synthetic_fs = float(fs), float(seconds), synthetic_fs
        self._opened: dict[tuple[float, float], tuple[dict[str, Any], list[dict]]] = {}

    def spec_for(self, source: Any) -> tuple[float, float]:
        """``(fs, seconds)`` a source gets: its own ``fs`` / ``seconds``, else the defaults."""
        fs = getattr(source, "fs", None) or self.fs
        seconds = getattr(source, "seconds", None) or self.seconds
        return float(fs), float(seconds)

    def at(self, fs: float, seconds: float) -> dict[str, Any]:
        """Every dataset harmonised at ``fs`` Hz and ``seconds`` s (opened on first request)."""
        key = (float(fs), float(seconds))
        if key not in self._opened:
            self._opened[key] = open_datasets(self.paths, key[0], key[1], self.cache_root, self.split_sources,
                                              self.synthetic_root, self.synthetic_n, self.seed, self.progress,
                                              self.holdout, synthetic_fs=self.synthetic_fs)
            names = [list(v[0]) for v in self._opened.values()]
            if any(n != names[0] for n in names):
                raise ValueError(f"the datasets differ between rates: {names[0]} and {names[-1]}")
        return self._opened[key][0]

    def for_source(self, source: Any) -> dict[str, Any]:
        return self.at(*self.spec_for(source))

    __call__ = for_source

    @property
    def opened(self) -> list[tuple[float, float]]:
        """The ``(fs, seconds)`` opened so far, in order."""
        return list(self._opened)

    def info(self) -> list[dict]:
        """One dict per dataset and rate opened (name, path, store, records, fs, seconds)."""
        return [row for _, rows in self._opened.values() for row in rows]


def band_limit_notes(source: str, fs: float, datasets: Mapping[str, Any]) -> list[str]:
    """Notes for every dataset some of whose records were recorded below ``fs`` (the source's rate):
    harmonising them up to ``fs`` cannot create what lies above the recording's Nyquist frequency,
    so the source sees a band-limited signal."""
    notes = []
    for name, ds in datasets.items():
        table = ds.table
        if "orig_fs" not in table.columns or not len(table):
            continue
        orig = table["orig_fs"].astype(float).to_numpy()
        low = orig < float(fs) - 1e-6
        if low.any():
            lowest = float(orig[low].min())
            notes.append(f"{source} runs at {fs:g} Hz, but {int(low.sum())} of {len(orig)} records of {name} were "
                         f"recorded at {lowest:g} Hz: they are upsampled and hold no signal above {lowest / 2:g} Hz")
    return notes


def describe(datasets: Mapping[str, Any]) -> str:
    """One line per dataset: name and record count."""
    return "\n".join(f"  {name}: {len(ds)} records" for name, ds in datasets.items())
