"""``ecgfoundry.load``: one loading function for runs, shipped models and external adapters, whose
methods take numpy arrays or torch tensors (issue 22)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ecgfoundry
from ecgfoundry.errors import EcgDataError
from tests.eval.conftest import _single_thread, eval_store, tiny_run  # noqa: F401


@pytest.fixture(scope="module")
def test_batch(eval_store):  # noqa: F811
    return eval_store.batch(eval_store.split_indices("test"), "synthetic")


def test_load_a_run_and_encode_numpy_or_torch(tiny_run, test_batch):  # noqa: F811
    from ecgfoundry.checkpoint import load_model

    m = ecgfoundry.load(tiny_run)
    assert m.kind == "run" and m.has_text and m.fs == 100.0 and "run" in repr(m)
    z_np = m.encode_ecg(test_batch.signal, test_batch.observed)
    z_t = m.encode_ecg(torch.from_numpy(test_batch.signal), torch.from_numpy(test_batch.observed))
    assert isinstance(z_np, np.ndarray) and isinstance(z_t, torch.Tensor)
    np.testing.assert_allclose(z_np, z_t.numpy(), atol=1e-6)
    ref = load_model(tiny_run).eval()
    with torch.no_grad():
        want = ref.encode_ecg(torch.from_numpy(test_batch.signal), torch.from_numpy(test_batch.observed)).numpy()
    np.testing.assert_allclose(z_np, want, atol=1e-5)
    # one record (12, T); NaN samples are unobserved zeros, as the readers write them
    x = test_batch.signal[0].copy()
    o = test_batch.observed[0].copy()
    x[3, :200], o[3, :200] = np.nan, False
    clean = np.where(o, x, 0.0).astype(np.float32)
    np.testing.assert_allclose(m.encode_ecg(x), m.encode_ecg(clean, o), atol=1e-6)


def test_embed_pools_the_tokens(tiny_run, test_batch):  # noqa: F811
    from ecgfoundry.bench.embed import pool

    m = ecgfoundry.load(tiny_run)
    tokens = m.embed(test_batch.signal, test_batch.observed, pooling=None)
    with torch.no_grad():
        enc = m.model.ecg_tokens(torch.from_numpy(test_batch.signal), torch.from_numpy(test_batch.observed))
    np.testing.assert_allclose(tokens, enc.tokens.numpy(), atol=1e-5)
    np.testing.assert_allclose(m.embed(test_batch.signal, test_batch.observed),
                               pool(enc.tokens, "mean", enc.token_observed), atol=1e-5)
    # data at another rate is resampled to the model's 100 Hz first
    from ecgfoundry.signals.resample import resample

    x500, o500 = resample(test_batch.signal[:2], test_batch.observed[:2], 100.0, 500.0)
    back, _ = resample(x500, o500, 500.0, 100.0)
    np.testing.assert_allclose(m.embed(x500, o500, fs=500), m.embed(back.astype(np.float32), fs=100), atol=1e-5)


def test_zero_shot_scores_match_the_evaluation(tiny_run, test_batch):  # noqa: F811
    from ecgfoundry.eval.prompts import load_prompts, prompts_for
    from ecgfoundry.eval.zero_shot import zero_shot_classifier, zero_shot_scores

    m = ecgfoundry.load(tiny_run)
    scores = m.zero_shot(test_batch.signal, "synthetic/synthetic", test_batch.observed)
    classes = list(load_prompts()["synthetic/synthetic"])
    cls = zero_shot_classifier(m.model, classes, prompts_for(load_prompts(), "synthetic/synthetic", classes))
    np.testing.assert_allclose(scores, zero_shot_scores(m.model, test_batch.signal, test_batch.observed, cls),
                               atol=1e-6)
    assert m.classes == classes


def test_adapter_and_errors(tmp_path, test_batch):
    m = ecgfoundry.load("ecg-jepa-tiny", weights="random")
    assert m.kind == "adapter" and not m.has_text
    e = m.embed(torch.from_numpy(test_batch.signal[:2]), fs=100)
    assert isinstance(e, torch.Tensor) and e.ndim == 2 and e.shape[0] == 2
    with pytest.raises(ValueError, match="ECG-text model"):
        m.encode_text(["x"])
    with pytest.raises(EcgDataError, match="needs its weights"):
        ecgfoundry.load("ecg-fm")
    with pytest.raises(EcgDataError, match="adapters: .*ecg-fm"):
        ecgfoundry.load("no-such-model")
    with pytest.raises(EcgDataError, match="not a checkpoint"):
        ecgfoundry.load(tmp_path)


def test_load_a_shipped_model_by_name(test_batch):
    from ecgfoundry.pretrained import list_pretrained

    shipped = list_pretrained()
    if not shipped:
        pytest.skip("no shipped model in this build")
    m = ecgfoundry.load(shipped[0])
    assert m.kind == "shipped" and m.name == shipped[0]
    z = m.encode_ecg(torch.from_numpy(test_batch.signal[:3]))
    assert isinstance(z, torch.Tensor) and z.shape[0] == 3
    np.testing.assert_allclose(z.norm(dim=1).numpy(), 1.0, atol=1e-4)
