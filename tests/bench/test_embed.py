"""Pooling (mask-aware), extraction from torch / numpy sources, and the on-disk cache."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecgfoundry.batch import EcgBatch
from ecgfoundry.bench.embed import EmbeddingCache, Embeddings, embed_batches, embed_store, pool


def test_pooling_known_values_and_mask():
    t = np.array([[[1.0, 5.0], [3.0, -1.0], [100.0, 100.0]]], np.float32)  # (1, 3, 2)
    m = np.array([[True, True, False]])
    assert np.allclose(pool(t, "mean"), [[104 / 3, 104 / 3]])
    assert pool(t, "mean", m).tolist() == [[2.0, 2.0]]
    assert pool(t, "max", m).tolist() == [[3.0, 5.0]]
    assert pool(t, "last", m).tolist() == [[3.0, -1.0]]
    assert pool(t, "last").tolist() == [[100.0, 100.0]]
    none = np.array([[False, False, False]])
    for p in ("mean", "max", "last"):
        assert pool(t, p, none).tolist() == [[0.0, 0.0]]
    with pytest.raises(ValueError):
        pool(t, "median")


def test_pooling_accepts_torch_and_2d():
    torch = pytest.importorskip("torch")
    t = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4)
    assert np.allclose(pool(t, "mean"), t.mean(1).numpy())
    assert pool(np.ones((5, 7)), "max").shape == (5, 7)


class FakeStore:
    """A minimal ArrayStore: name, table with record_id, batch(indices)."""

    name = "fake"

    def __init__(self, n=10, t=50):
        rng = np.random.default_rng(0)
        self.signal = rng.normal(size=(n, 12, t)).astype(np.float32)
        self.table = pd.DataFrame({"record_id": [f"r{i}" for i in range(n)]})

    def __len__(self):
        return len(self.table)

    def batch(self, indices, with_labels=False):
        idx = np.asarray(indices)
        return EcgBatch(self.signal[idx], np.ones_like(self.signal[idx], bool), fs=100.0,
                        ids=[f"fake/r{i}" for i in idx])


class CountingSource:
    """Tokens = per-lead means (M = 12 tokens of D = 2); lead 12 masked out."""

    name = "counting"

    def __init__(self):
        self.calls = 0

    def embed(self, batch):
        self.calls += 1
        s = np.asarray(batch.signal)
        tokens = np.stack([s.mean(-1), s.std(-1)], axis=-1)
        mask = np.ones(tokens.shape[:2], bool)
        mask[:, -1] = False
        return tokens, mask


def test_embed_store_batches_pools_and_caches(tmp_path):
    store, src = FakeStore(), CountingSource()
    out = embed_store(src, store, tmp_path, batch_size=4, progress=False)
    assert src.calls == 3  # ceil(10 / 4), all three poolings from the same pass
    s = store.signal
    assert np.allclose(out["mean"].X[:, 0], s[:, :11].mean(-1).mean(-1), atol=1e-6)
    assert np.allclose(out["last"].X[:, 0], s[:, 10].mean(-1), atol=1e-6)
    assert out["max"].ids == [f"fake/r{i}" for i in range(10)]
    again = embed_store(src, store, tmp_path, batch_size=4, progress=False)
    assert src.calls == 3  # nothing re-embedded
    assert np.array_equal(again["max"].X, out["max"].X)
    # a different record selection does not match the cached ids: recomputed
    embed_store(src, store, tmp_path, poolings=("mean",), indices=np.arange(5), progress=False)
    assert src.calls == 4  # one batch of 5; the entry now holds those 5 records


def test_torch_module_source_runs_without_grad(tmp_path):
    torch = pytest.importorskip("torch")

    class Lin(torch.nn.Module):
        name = "lin"

        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(50, 8)

        def embed(self, batch):
            return self.proj(torch.as_tensor(batch.signal))  # (N, 12, 8), requires grad

    pooled, n_empty = embed_batches(Lin(), [FakeStore().batch(np.arange(3))], ("mean",), progress=False)
    assert pooled["mean"].shape == (3, 8) and n_empty == 0


def test_cache_roundtrip_and_atomic_names(tmp_path):
    cache = EmbeddingCache(tmp_path)
    X = np.arange(6, dtype=np.float32).reshape(3, 2)
    cache.save(Embeddings(X, ["a", "b", "c"], "my/model", "ptbxl", "max"))
    assert cache.has("my/model", "ptbxl", "max", ["a", "b", "c"])
    assert not cache.has("my/model", "ptbxl", "max", ["a", "b", "d"])
    e = cache.load("my/model", "ptbxl", "max")
    assert np.array_equal(e.X, X) and e.ids == ["a", "b", "c"] and e.meta["dim"] == 2
    assert not list(tmp_path.rglob("*.partial*"))
    with pytest.raises(ValueError):
        cache.save(Embeddings(X, ["a"], "m", "d", "max"))


def test_new_weights_are_re_embedded(tmp_path):
    store, src = FakeStore(), CountingSource()
    src.fingerprint = "weights-a"
    embed_store(src, store, tmp_path, poolings=("mean",), progress=False)
    embed_store(src, store, tmp_path, poolings=("mean",), progress=False)
    assert src.calls == 1  # cached for the same weights
    src.fingerprint = "weights-b"  # e.g. the run folder now holds a later checkpoint
    out = embed_store(src, store, tmp_path, poolings=("mean",), progress=False)
    assert src.calls == 2 and out["mean"].meta["fingerprint"] == "weights-b"
