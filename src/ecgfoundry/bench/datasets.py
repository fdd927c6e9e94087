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
                  holdout: Sequence[str] = ()) -> tuple[dict[str, Any], list[dict]]:
    """Open every ``--data`` entry as harmonised stores (``fs``, ``seconds``), split by source if asked.

    ``"synthetic"`` (when no such folder exists) is the synthetic default, generated under
    ``synthetic_root``. Datasets named in ``holdout`` (by the dataset's name, before or after the
    source split) keep only their records outside the ``train`` split (:func:`holdout_view`).

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
            path = synthetic_folder(synthetic_root, synthetic_n, seed, fs, seconds, progress)
        store = open_store(path, spec, cache_root, progress=progress)
        parts = split_by_source(store) if split_sources else {store.name: store}
        if holdout:
            parts = {(n + HOLDOUT_SUFFIX if n in holdout or store.name in holdout else n):
                     (holdout_view(d) if n in holdout or store.name in holdout else d) for n, d in parts.items()}
        for name, ds in parts.items():
            if name in out:
                raise ValueError(f"two datasets are named {name!r} ({entry} and an earlier --data entry)")
            out[name] = ds
            info.append({"dataset": name, "data": entry, "path": str(path), "store": str(store.path),
                         "records": len(ds), "fs": float(store.fs)})
    return out, info


def describe(datasets: Mapping[str, Any]) -> str:
    """One line per dataset: name and record count."""
    return "\n".join(f"  {name}: {len(ds)} records" for name, ds in datasets.items())
