"""Every embedding source gets the data at its own native rate and window, harmonised once per rate:
fake adapters (no real weights offline) declare 500 Hz / 5 s and 100 Hz / 10 s and record what they see."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sklearn", reason="the bench extra is not installed (pip install -e '.[bench]')")

import torch  # noqa: E402
from torch import nn  # noqa: E402

from ecgfoundry.bench import adapters  # noqa: E402
from ecgfoundry.bench.adapters import EmbeddingAdapter  # noqa: E402
from ecgfoundry.bench.datasets import DatasetsByRate, band_limit_notes  # noqa: E402
from ecgfoundry.cli.main import main  # noqa: E402

SEEN: dict[str, list] = {}


def high_band_fraction(signal: np.ndarray, fs: float, above: float = 55.0) -> float:
    """Share of the spectral power of ``signal (N, 12, T)`` above ``above`` Hz (mean removed per lead, Hann
    taper against edge leakage). Synthetic 500 Hz records: ~4e-4; the same brought to 100 Hz and back: ~1e-7."""
    x = signal - signal.mean(axis=-1, keepdims=True)
    x = x * np.hanning(x.shape[-1])
    power = np.abs(np.fft.rfft(x, axis=-1)) ** 2
    freqs = np.fft.rfftfreq(x.shape[-1], 1.0 / fs)
    return float(power[..., freqs > above].sum() / max(power.sum(), 1e-12))


class _Fake(EmbeddingAdapter):
    def preprocess(self, batch):
        x = np.asarray(batch.signal, dtype=np.float32)
        SEEN.setdefault(self.name, []).append({"fs": float(batch.fs), "T": x.shape[-1],
                                               "high": high_band_fraction(x, float(batch.fs))})
        return torch.as_tensor(np.stack([x.mean(-1), x.std(-1)], axis=-1))  # (N, 12, 2)

    def forward_tokens(self, x):
        return self.model(x)


def _register(monkeypatch, name, fs, seconds):
    cls = type(f"Fake{int(fs)}", (_Fake,), {"name": name, "native_fs": fs, "native_seconds": seconds})
    monkeypatch.setitem(adapters._REGISTRY, name,
                        lambda weights=None, **kw: cls(nn.Identity(), device="cpu", batch_size=kw.get("batch_size", 16)))


def test_each_adapter_gets_its_own_rate_from_500_hz_data(tmp_path, monkeypatch, capsys):
    SEEN.clear()
    _register(monkeypatch, "fake-500", 500.0, 5.0)
    _register(monkeypatch, "fake-100", 100.0, 10.0)
    out = tmp_path / "bench"
    argv = ["bench", "--models", "fake-500", "fake-100", "--weights", "fake-500=random", "fake-100=random",
            "--data", "synthetic", "--synthetic-n", "60", "--tasks", "CD", "--sizes", "XS", "--folds", "3",
            "--pooling", "max", "--classifiers", "logistic_regression", "--no-representation", "--no-progress",
            "--out", str(out), "--cache-root", str(tmp_path / "cache")]
    assert main(argv) == 0
    # the old code harmonised everything to one rate (100 Hz without checkpoints) and upsampled for adapters
    hi, lo = SEEN["fake-500-random"], SEEN["fake-100-random"]
    assert {b["fs"] for b in hi} == {500.0} and {b["T"] for b in hi} == {2500}
    assert {b["fs"] for b in lo} == {100.0} and {b["T"] for b in lo} == {1000}
    # the 500 Hz source data (synthetic generated at the highest rate a model needs) keep their content
    # above 50 Hz for the 500 Hz model: a signal brought down to 100 Hz and back up would have none
    assert min(b["high"] for b in hi) > 1e-5
    s = json.loads((out / "summary.json").read_text())
    assert s["harmonisation"] == {"fake-500-random": {"fs": 500.0, "seconds": 5.0},
                                  "fake-100-random": {"fs": 100.0, "seconds": 10.0}}
    assert s["data_notes"] == []  # nothing was recorded below a model's rate
    assert {(d["fs"], d["seconds"]) for d in s["datasets"]} == {(500.0, 5.0), (100.0, 10.0)}
    emb = json.loads((out / "work" / "embeddings" / "fake-500-random" / "synthetic" / "max.json").read_text())
    assert (emb["fs"], emb["seconds"]) == (500.0, 5.0)


class _Store:
    def __init__(self, fs, orig):
        self.fs = fs
        self.table = pd.DataFrame({"record_id": list("abc"), "orig_fs": orig})


def test_band_limit_is_noted():
    notes = band_limit_notes("ecg-fm", 500.0, {"ptbxl": _Store(500.0, [100.0, 100.0, 500.0]),
                                               "cinc": _Store(500.0, [500.0] * 3)})
    assert len(notes) == 1 and "2 of 3 records of ptbxl" in notes[0] and "above 50 Hz" in notes[0]


def test_datasets_are_harmonised_once_per_rate(tmp_path, monkeypatch):
    import ecgfoundry.bench.datasets as ds

    calls = []
    monkeypatch.setattr(ds, "open_datasets", lambda paths, fs, seconds, *a, **k: (calls.append((fs, seconds)) or
                                                                                  ({"d": _Store(fs, [fs] * 3)}, [])))
    by_rate = DatasetsByRate(["x"], None, False, tmp_path)
    a, b = type("A", (), {"fs": 500.0, "seconds": 5.0})(), type("B", (), {"fs": None, "seconds": None})()
    assert by_rate.for_source(a)["d"].fs == 500.0 and by_rate.for_source(b)["d"].fs == 100.0
    by_rate.for_source(a), by_rate.at(500, 5)
    assert calls == [(500.0, 5.0), (100.0, 10.0)] and by_rate.opened == calls
