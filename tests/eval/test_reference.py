import json
import shutil

import numpy as np
import pytest
import torch

from ecgfoundry.errors import EcgDataError
from ecgfoundry.eval.reference import (ReferenceConfig, check_reference, load_reference, train_reference)


def test_train_save_load_round_trip(eval_store, tiny_reference):
    ref = tiny_reference
    assert ref.classes == eval_store.labels("synthetic")[1]
    assert ref.fs == eval_store.fs and ref.n_samples == eval_store.signal.shape[-1]
    hist = ref.info["history"]
    assert 1 <= ref.info["best_epoch"] <= len(hist) <= 2
    assert ref.info["val_auroc"] == max(h["val_auroc"] for h in hist)  # best validation epoch kept
    meta = json.loads((ref.path / "reference.json").read_text())
    assert meta["format"] == "ecgfoundry-reference/1" and meta["encoder"]["kind"] == "resnet1d"
    assert (ref.path / "model.safetensors").exists()
    loaded = load_reference(ref.path)
    b = eval_store.batch(np.arange(5), "synthetic")
    p = ref.probability_fn()(b.signal, b.observed)
    assert p.shape == (5, len(ref.classes)) and np.all((p > 0) & (p < 1))
    np.testing.assert_allclose(loaded.probability_fn()(b.signal, b.observed), p, rtol=1e-5, atol=1e-6)


def test_training_is_seeded(eval_store, tiny_reference):
    again = train_reference(eval_store, "synthetic", ReferenceConfig(encoder="resnet1d-tiny", epochs=2, seed=0),
                            device="cpu", progress=False)
    for (k, a), b in zip(tiny_reference.model.state_dict().items(), again.model.state_dict().values()):
        assert torch.equal(a, b), k


def test_checks_and_errors(tmp_path, eval_store, tiny_reference):
    check_reference(tiny_reference, tiny_reference.classes, eval_store.fs)
    with pytest.raises(EcgDataError, match="classes"):
        check_reference(tiny_reference, ("AF",), eval_store.fs)
    with pytest.raises(EcgDataError, match="500 Hz"):
        check_reference(tiny_reference, tiny_reference.classes, 500.0)
    with pytest.raises(EcgDataError, match="reference.json"):
        load_reference(tmp_path)
    with pytest.raises(ValueError, match="1-D ResNet"):
        train_reference(eval_store, "synthetic", ReferenceConfig(encoder="transformer-tiny", epochs=1), progress=False)
    bad = tmp_path / "bad"
    shutil.copytree(tiny_reference.path, bad)
    meta = json.loads((bad / "reference.json").read_text())
    meta["classes"] = meta["classes"][:3]
    (bad / "reference.json").write_text(json.dumps(meta))
    with pytest.raises(EcgDataError, match="do not match"):
        load_reference(bad)
