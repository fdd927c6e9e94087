import json

import numpy as np
import pytest

from ecgfoundry.errors import EcgDataError
from ecgfoundry.io.challenge import Challenge
from ecgfoundry.io.store import ArrayStore, HarmonizeSpec, build_store
from ecgfoundry.signals.leads import LEADS

from .test_challenge import write_record


@pytest.fixture()
def source(tmp_path):
    root = tmp_path / "data"
    t = np.arange(1000) / 500.0
    sine = (np.sin(2 * np.pi * 5 * t) * 1000).astype(np.int16)
    write_record(root, "E1", dx="164889003", values=np.tile(sine, (12, 1)))  # 2 s at 500 Hz
    write_record(root, "E2", dx="426783006", n=2500, values=np.tile(np.r_[sine, sine, sine[:500]], (12, 1)))
    write_record(root, "E3", leads=LEADS[:11] + ("Pleth",))  # unreadable: unknown lead
    return Challenge(root)


def test_build_and_read(tmp_path, source):
    store = build_store(source, tmp_path / "cache", HarmonizeSpec(fs=100, seconds=4), progress=False)
    assert len(store) == 2 and store.signal.shape == (2, 12, 400)
    info = json.loads((tmp_path / "cache" / "store.json").read_text())
    assert [s["record_id"] for s in info["skipped"]] == ["E3"]  # never silently dropped
    b = store.batch([1, 0], label_set="AF")
    assert b.ids == ["cinc2021/E2", "cinc2021/E1"]
    np.testing.assert_array_equal(b.labels[:, 0], [0, 1])
    # E1 is 2 s long: padded to 4 s, the padding unobserved and zero
    assert b.observed[1, :, :200].all() and not b.observed[1, :, 200:].any()
    assert (b.signal[1, :, 200:] == 0).all()
    # resampled 5 Hz sine keeps its amplitude (1 mV)
    assert abs(np.abs(b.signal[0, 0, 50:350]).max() - 1.0) < 0.05
    assert store.table["orig_fs"].tolist() == [500.0, 500.0]
    assert not (tmp_path / "cache.partial").exists()
    with pytest.raises(FileExistsError):
        build_store(source, tmp_path / "cache", progress=False)


def test_fail_fast(tmp_path, source):
    with pytest.raises(EcgDataError, match="Pleth"):
        build_store(source, tmp_path / "c", errors="raise", progress=False)


def test_corrupt_store(tmp_path, source):
    build_store(source, tmp_path / "c", HarmonizeSpec(fs=100, seconds=2), progress=False)
    with pytest.raises(EcgDataError, match="store.json"):
        ArrayStore(tmp_path)
    np.save(tmp_path / "c" / "observed.npy", np.ones((3, 12, 200), bool))
    with pytest.raises(EcgDataError, match=r"observed.npy: shape"):
        ArrayStore(tmp_path / "c")


def test_spec_validation():
    with pytest.raises(ValueError, match="crop"):
        HarmonizeSpec(crop="middle")
    with pytest.raises(ValueError, match="fs"):
        HarmonizeSpec(fs=0)
    assert HarmonizeSpec(fs=100, seconds=10).n_samples == 1000


def test_real_ptbxl_cache_matches_reader(tmp_path, ptbxl_root):
    from ecgfoundry.io.ptbxl import PTBXL

    src = PTBXL(ptbxl_root)
    sub = PTBXL(ptbxl_root)
    sub.table = src.table.iloc[:40].reset_index(drop=True)
    store = build_store(sub, tmp_path / "p", progress=False)
    rec = src.read(7)
    np.testing.assert_array_equal(store.signal[7], rec.signal)  # same fs and length: bit-exact
    y, classes = store.labels("superdiagnostic")
    np.testing.assert_array_equal(y, src.labels("superdiagnostic")[0][:40])
