"""Embedding extraction for the benchmark: any source, pooled by the benchmark, cached on disk.

An embedding source is anything with ``embed(batch) -> tokens`` where ``tokens`` is a tensor or
array of shape ``(N, M, D)`` (``(N, D)`` is taken as one token). It may also return a pair
``(tokens, token_observed)`` or an object with ``tokens`` and ``token_observed`` attributes (our
``EncoderOutput``); ``token_observed`` ``(N, M)`` bool marks the tokens that saw measured signal, and
pooling then ignores the others. The source's ``name`` attribute (or its class name) keys the cache.

Pooling (applied here, never by the model; Filice et al., arXiv 2601.21830, use last-token and max):

* ``mean``: mean over observed tokens;
* ``max``: element-wise max over observed tokens;
* ``last``: the last observed token.

A record with no observed token at all pools to a zero vector (and is counted in the cache
metadata as ``n_empty``).

Cache layout (one folder per source and dataset)::

    <root>/<source>/<dataset>/<pooling>.npy    float32 (N, D)
    <root>/<source>/<dataset>/<pooling>.json   source, dataset, pooling, n, dim, ids, ids_sha1, ...

Every pooling of a dataset is computed in the same pass over the data, so a grid over poolings
embeds each record once; a later call finds the files and never re-embeds, unless the records or
the source's ``fingerprint`` (its weights, when the source has one) or the rate and length the
data were harmonised to changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ecgfoundry.progress import track

POOLINGS: tuple[str, ...] = ("mean", "max", "last")


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor, without importing torch
        x = x.detach()
        if hasattr(x, "float") and str(getattr(x, "dtype", "")).startswith("torch.bfloat16"):
            x = x.float()
        x = x.cpu().numpy()
    return np.asarray(x)


def split_output(out: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Normalise a source's output to ``(tokens (N, M, D) float32, mask (N, M) bool or None)``."""
    mask = None
    if hasattr(out, "tokens"):
        out, mask = out.tokens, getattr(out, "token_observed", None)
    elif isinstance(out, (tuple, list)):
        if len(out) != 2:
            raise ValueError(f"a source may return tokens or (tokens, token_observed); got {len(out)} items")
        out, mask = out
    tokens = _to_numpy(out).astype(np.float32, copy=False)
    if tokens.ndim == 2:
        tokens = tokens[:, None, :]
    if tokens.ndim != 3:
        raise ValueError(f"tokens must be (N, M, D) or (N, D), got shape {tokens.shape}")
    if mask is not None:
        mask = _to_numpy(mask).astype(bool)
        if mask.shape != tokens.shape[:2]:
            raise ValueError(f"token_observed must be (N, M) = {tokens.shape[:2]}, got {mask.shape}")
    return tokens, mask


def pool(tokens: Any, method: str, mask: Any = None) -> np.ndarray:
    """Pool tokens ``(N, M, D)`` into ``(N, D)`` float32, ignoring tokens where ``mask`` is False.

    Parameters
    ----------
    tokens : ndarray or Tensor of shape (N, M, D)
    method : {"mean", "max", "last"}
    mask : ndarray or Tensor of shape (N, M), bool, optional
        True = the token is observed; None = all are.

    Examples
    --------
    >>> t = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    >>> pool(t, "last", mask=np.array([[True, True, False]])).tolist()
    [[4.0, 5.0, 6.0, 7.0]]
    """
    if method not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {method!r}")
    tokens, mask = split_output((tokens, mask) if mask is not None else tokens)
    n, m, d = tokens.shape
    if mask is None:
        mask = np.ones((n, m), dtype=bool)
    any_obs = mask.any(axis=1)
    if method == "mean":
        w = mask.astype(np.float32)[..., None]
        out = (tokens * w).sum(axis=1) / np.maximum(w.sum(axis=1), 1.0)
    elif method == "max":
        out = np.where(mask[..., None], tokens, -np.inf).max(axis=1)
    else:
        last = m - 1 - np.argmax(mask[:, ::-1], axis=1)
        out = tokens[np.arange(n), last]
    out = np.where(any_obs[:, None], out, 0.0)
    return out.astype(np.float32, copy=False)


def _no_grad():
    try:
        import torch
    except ImportError:  # a numpy-only source
        return contextlib.nullcontext()
    return torch.inference_mode()


def source_name(source: Any) -> str:
    """The name a source is cached under: its ``name`` attribute, else its class name."""
    return str(getattr(source, "name", None) or type(source).__name__)


def embed_batches(source: Any, batches: Iterable, poolings: Sequence[str] = POOLINGS,
                  progress: bool = True, total: int | None = None, description: str = "embedding"
                  ) -> tuple[dict[str, np.ndarray], int]:
    """Run ``source.embed`` on every batch and pool the tokens each way.

    Returns
    -------
    pooled : dict pooling -> ndarray (N, D) float32
    n_empty : int
        Records without any observed token (pooled to zeros).
    """
    for p in poolings:
        if p not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {p!r}")
    parts: dict[str, list[np.ndarray]] = {p: [] for p in poolings}
    n_empty = 0
    with _no_grad():
        for batch in track(batches, description, enabled=progress, total=total):
            tokens, mask = split_output(source.embed(batch))
            if len(tokens) != len(batch):
                raise ValueError(f"{source_name(source)} returned {len(tokens)} embeddings for {len(batch)} records")
            if mask is not None:
                n_empty += int((~mask.any(axis=1)).sum())
            for p in poolings:
                parts[p].append(pool(tokens, p, mask))
    if not any(parts.values()) or not parts[poolings[0]]:
        raise ValueError("no batches to embed")
    return {p: np.concatenate(v) for p, v in parts.items()}, n_empty


def source_fingerprint(source: Any) -> str | None:
    """What identifies a source's weights (``source.fingerprint``, e.g. a hash of the checkpoint file):
    cached embeddings of a source whose fingerprint changed are recomputed, not reused."""
    fp = getattr(source, "fingerprint", None)
    return str(fp) if fp is not None else None


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name)


def ids_digest(ids: Sequence[str]) -> str:
    return hashlib.sha1("\n".join(map(str, ids)).encode()).hexdigest()


@dataclass
class Embeddings:
    """Pooled embeddings of one dataset by one source: ``X (N, D)`` and the record ids."""

    X: np.ndarray
    ids: list[str]
    source: str
    dataset: str
    pooling: str
    meta: dict[str, Any] = field(default_factory=dict)


class EmbeddingCache:
    """Pooled embeddings on disk, keyed by source name + dataset + pooling (see module docstring).

    Parameters
    ----------
    root : str or Path
        Cache folder (created on first write).
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, source: str, dataset: str, pooling: str) -> Path:
        return self.root / _safe(source) / _safe(dataset) / f"{_safe(pooling)}.npy"

    def has(self, source: str, dataset: str, pooling: str, ids: Sequence[str] | None = None,
            fingerprint: str | None = None, rate: tuple | None = None) -> bool:
        """True when the entry exists (for the same record ``ids``, source ``fingerprint`` and data
        ``rate`` ``(fs, seconds)`` when given)."""
        p = self.path(source, dataset, pooling)
        if not (p.exists() and p.with_suffix(".json").exists()):
            return False
        if ids is None and fingerprint is None and rate is None:
            return True
        meta = json.loads(p.with_suffix(".json").read_text())
        if rate is not None and (meta.get("fs"), meta.get("seconds")) != tuple(rate):
            return False
        if ids is not None and meta.get("ids_sha1") != ids_digest(ids):
            return False
        return fingerprint is None or meta.get("fingerprint") == fingerprint

    def load(self, source: str, dataset: str, pooling: str, mmap: bool = True) -> Embeddings:
        p = self.path(source, dataset, pooling)
        if not p.exists():
            raise FileNotFoundError(f"no cached embeddings for {source} / {dataset} / {pooling} at {p}")
        meta = json.loads(p.with_suffix(".json").read_text())
        X = np.load(p, mmap_mode="r" if mmap else None)
        return Embeddings(X, list(meta.pop("ids")), source, dataset, pooling, meta)

    def save(self, emb: Embeddings) -> Path:
        """Write atomically (temporary files renamed), so an interrupted write never looks complete."""
        X = np.asarray(emb.X, dtype=np.float32)
        if X.ndim != 2 or len(X) != len(emb.ids):
            raise ValueError(f"embeddings must be (N, D) with one id per row, got {X.shape} and {len(emb.ids)} ids")
        p = self.path(emb.source, emb.dataset, emb.pooling)
        p.parent.mkdir(parents=True, exist_ok=True)
        meta = {**emb.meta, "source": emb.source, "dataset": emb.dataset, "pooling": emb.pooling,
                "n": int(X.shape[0]), "dim": int(X.shape[1]), "ids_sha1": ids_digest(emb.ids),
                "ids": list(map(str, emb.ids))}
        tmp = p.with_name(p.stem + ".partial.npy")
        np.save(tmp, X)
        tmp_json = p.with_name(p.stem + ".partial.json")
        tmp_json.write_text(json.dumps(meta))
        os.replace(tmp, p)
        os.replace(tmp_json, p.with_suffix(".json"))
        return p


def embed_store(source: Any, store: Any, cache: EmbeddingCache | str | Path | None = None,
                poolings: Sequence[str] = POOLINGS, dataset: str | None = None,
                indices: np.ndarray | None = None, batch_size: int = 64, progress: bool = True
                ) -> dict[str, Embeddings]:
    """Pooled embeddings of a dataset cache (``ArrayStore``), read from / written to ``cache``.

    Parameters
    ----------
    source : object with ``embed(batch)``
    store : ArrayStore
        Records are read with ``store.batch(indices, with_labels=False)`` in chunks of ``batch_size``.
    cache : EmbeddingCache or folder, optional
        Poolings already cached for the same records (same ids) are loaded, not recomputed.
    poolings : sequence of {"mean", "max", "last"}
    dataset : str, optional
        Name in the cache and tables (default ``store.name``); name sub-sources apart here.
    indices : ndarray, optional
        Records to embed (default all).

    Returns
    -------
    dict pooling -> Embeddings
    """
    if cache is not None and not isinstance(cache, EmbeddingCache):
        cache = EmbeddingCache(cache)
    name, dataset = source_name(source), dataset or store.name
    idx = np.arange(len(store)) if indices is None else np.asarray(indices)
    ids = [f"{store.name}/{r}" for r in store.table["record_id"].to_numpy()[idx]]
    out: dict[str, Embeddings] = {}
    fingerprint = source_fingerprint(source)
    rate = (float(getattr(store, "fs", 0.0) or 0.0), (getattr(store, "info", None) or {}).get("seconds"))
    todo = [p for p in poolings if cache is None or not cache.has(name, dataset, p, ids, fingerprint, rate)]
    for p in poolings:
        if p not in todo:
            out[p] = cache.load(name, dataset, p)
    if todo:
        chunks = [idx[a:a + batch_size] for a in range(0, len(idx), batch_size)]
        start = time.perf_counter()
        pooled, n_empty = embed_batches(source, (store.batch(c, with_labels=False) for c in chunks), todo,
                                        progress=progress, total=len(chunks),
                                        description=f"embedding {dataset} with {name}")
        meta = {"n_empty": n_empty, "seconds": round(time.perf_counter() - start, 3),
                "store": str(getattr(store, "path", "")), "fingerprint": fingerprint,
                "fs": rate[0], "seconds": rate[1]}
        for p in todo:
            out[p] = Embeddings(pooled[p], ids, name, dataset, p, meta)
            if cache is not None:
                cache.save(out[p])
    return {p: out[p] for p in poolings}
