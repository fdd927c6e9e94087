"""Where ecgfoundry keeps its caches, independent of the current directory.

The root is ``$ECGFOUNDRY_CACHE`` when set, else the user cache folder (``$XDG_CACHE_HOME/ecgfoundry``,
by default ``~/.cache/ecgfoundry``). Below it::

    stores/           dataset caches (ecgfoundry.io.store): signals harmonised once per dataset and
                      harmonisation; the texts of each text source in a store's texts/ folder
    text-embeddings/  frozen text encoders' embeddings, by text hash
    hard-masks/       the stress test's Hard masks (ecgfoundry.eval.stress), by data, reference
                      outputs and mask settings: F's C candidate passes are paid once per data set

``ecgfoundry cache list`` shows them with their sizes, ``ecgfoundry cache clear`` removes them.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

ENV = "ECGFOUNDRY_CACHE"
LEGACY_STORES = Path("runs") / "cache"
"""Where dataset caches went before (relative to the current directory); still read, never written."""


def cache_root() -> Path:
    """``$ECGFOUNDRY_CACHE``, else ``$XDG_CACHE_HOME/ecgfoundry``, else ``~/.cache/ecgfoundry``
    (an absolute path: it never depends on the current directory)."""
    env = os.environ.get(ENV)
    if env:
        return Path(env).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return (base / "ecgfoundry").resolve()


def stores_dir() -> Path:
    return cache_root() / "stores"


def text_embeddings_dir() -> Path:
    return cache_root() / "text-embeddings"


def hard_masks_dir() -> Path:
    return cache_root() / "hard-masks"


def folder_size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += (Path(root) / f).stat().st_size
            except OSError:
                pass
    return total


def human_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


@dataclass(frozen=True)
class CacheEntry:
    """One cache folder: a dataset store or the text-embedding cache."""

    name: str
    kind: str            # "store" | "text-embeddings" | "hard-masks"
    path: Path
    size: int
    description: str


def list_caches(root: Path | None = None) -> list[CacheEntry]:
    """Every dataset store and the text-embedding cache under ``root`` (default :func:`cache_root`)."""
    root = Path(root) if root is not None else cache_root()
    entries: list[CacheEntry] = []
    stores = root / "stores"
    if stores.is_dir():
        for p in sorted(stores.iterdir()):
            meta = p / "store.json"
            if not meta.exists():
                continue
            try:
                info = json.loads(meta.read_text())
                texts = sorted(t.stem for t in (p / "texts").glob("*.csv")) if (p / "texts").is_dir() else []
                desc = (f"{info.get('dataset')} ({info.get('reader')}), {info.get('n_records'):,} records, "
                        f"{info.get('fs'):g} Hz x {info.get('seconds'):g} s, from {info.get('source')}"
                        + (f"; texts: {', '.join(texts)}" if texts else ""))
            except (json.JSONDecodeError, TypeError, ValueError):
                desc = "unreadable store.json"
            entries.append(CacheEntry(p.name, "store", p, folder_size(p), desc))
    emb = root / "text-embeddings"
    if emb.is_dir():
        n = sum(1 for _ in emb.rglob("*") if _.is_file())
        entries.append(CacheEntry("text-embeddings", "text-embeddings", emb, folder_size(emb),
                                  f"{n:,} files of cached text embeddings"))
    hard = root / "hard-masks"
    if hard.is_dir():
        n = sum(1 for _ in hard.glob("*.npz"))
        entries.append(CacheEntry("hard-masks", "hard-masks", hard, folder_size(hard),
                                  f"{n:,} cached Hard mask sets of the stress test"))
    return entries


def clear_caches(names: list[str] | None = None, root: Path | None = None) -> list[CacheEntry]:
    """Remove the named cache folders (all of them when ``names`` is None); returns what was removed.

    Raises
    ------
    KeyError
        A name that is not a cache folder under ``root`` (the valid names are listed).
    """
    entries = list_caches(root)
    by_name = {e.name: e for e in entries}
    if names is not None:
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise KeyError(f"no cache named {unknown[0]!r} under {Path(root) if root else cache_root()} "
                           f"(there are: {', '.join(by_name) or 'none'})")
        entries = [by_name[n] for n in names]
    for e in entries:
        shutil.rmtree(e.path)
    return entries
