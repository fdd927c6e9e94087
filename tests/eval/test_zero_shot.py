"""Zero-shot classifier and scores against a naive computation with a stand-in ECG-text model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ecgfoundry.eval.zero_shot import ZeroShotHead, heldout_infonce, zero_shot_classifier, zero_shot_scores


class StandIn(nn.Module):
    """encode_text: a fixed random vector per word, summed; encode_ecg: linear map of lead means."""

    def __init__(self, e: int = 8):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.proj = nn.Linear(12, e)
        self.words: dict[str, torch.Tensor] = {}
        self.g = g
        self.e = e
        self.calls: list[int] = []

    def _word(self, w: str) -> torch.Tensor:
        if w not in self.words:
            self.words[w] = torch.randn(self.e, generator=self.g)
        return self.words[w]

    def encode_text(self, texts):
        self.calls.append(len(texts))
        return nn.functional.normalize(torch.stack([sum(self._word(w) for w in t.split()) for t in texts]), dim=-1)

    def encode_ecg(self, signal, observed):
        assert not self.training
        return nn.functional.normalize(self.proj((signal * observed).mean(dim=2)), dim=-1)


PROMPTS = {"AF": ["irregular rhythm", "no p waves", "fibrillation"], "NORM": ["normal ecg", "sinus rhythm"]}


def test_classifier_is_normalised_mean_of_phrasings():
    model = StandIn()
    cls = zero_shot_classifier(model, ["NORM", "AF"], PROMPTS, batch_size=2)
    assert cls.shape == (2, 8)
    for row, name in zip(cls, ["NORM", "AF"]):
        e = model.encode_text(PROMPTS[name])
        ref = e.mean(0) / e.mean(0).norm()
        torch.testing.assert_close(row, ref)
    assert max(model.calls[:3]) <= 2  # batched text encoding
    with pytest.raises(KeyError, match="LBBB"):
        zero_shot_classifier(model, ["AF", "LBBB"], PROMPTS)


def test_scores_are_cosines_and_batch_invariant():
    model = StandIn()
    model.train()
    rng = np.random.default_rng(0)
    sig = rng.normal(size=(10, 12, 30)).astype(np.float32)
    obs = rng.random(sig.shape) > 0.2
    sig[~obs] = 0
    cls = zero_shot_classifier(model, ["AF", "NORM"], PROMPTS)
    s1 = zero_shot_scores(model, sig, obs, cls, batch_size=3)
    s2 = zero_shot_scores(model, torch.from_numpy(sig), torch.from_numpy(obs), cls, batch_size=100)
    assert s1.shape == (10, 2)
    np.testing.assert_allclose(s1, s2, atol=1e-6)
    with torch.no_grad():
        z = model.proj(torch.from_numpy(sig * obs).mean(2))
    naive = np.array([[float(torch.dot(zi, c) / (zi.norm() * c.norm())) for c in cls] for zi in z])
    np.testing.assert_allclose(s1, naive, atol=1e-6)
    assert model.training  # mode restored
    model.eval()
    head = ZeroShotHead(model, cls, scale=50.0)
    logits = head(torch.from_numpy(sig), torch.from_numpy(obs)).detach().numpy()
    np.testing.assert_allclose(logits, 50 * s1, atol=1e-4)


def test_heldout_infonce_matches_naive_loops_and_drops_the_partial_batch():
    model = StandIn().eval()
    rng = np.random.default_rng(0)
    n, b, scale = 11, 4, 7.0
    signal = rng.normal(size=(n, 12, 20)).astype(np.float32)
    observed = rng.random((n, 12, 20)) > 0.2
    words = ["af", "normal", "block", "st", "elevation", "rhythm"]
    texts = [" ".join(rng.choice(words, 3)) for _ in range(n)]
    got = heldout_infonce(model, signal, observed, texts, batch_size=b, scale=scale)
    per_batch = []
    for a in (0, 4):  # records 8-10 are a partial batch: left out
        z = model.encode_ecg(torch.from_numpy(signal[a:a + b]), torch.from_numpy(observed[a:a + b])).detach().numpy()
        u = model.encode_text(texts[a:a + b]).numpy()
        sim = scale * z @ u.T
        rows = [np.log(np.exp(sim[i]).sum()) - sim[i, i] for i in range(b)]
        cols = [np.log(np.exp(sim[:, j]).sum()) - sim[j, j] for j in range(b)]
        per_batch.append(0.5 * (np.mean(rows) + np.mean(cols)))
    assert got == pytest.approx(np.mean(per_batch), rel=1e-5)
    with pytest.raises(ValueError, match="whole batch of 32"):
        heldout_infonce(model, signal, observed, texts, batch_size=32, scale=scale)
    with pytest.raises(ValueError, match="11 records but 10 texts"):
        heldout_infonce(model, signal, observed, texts[:10], batch_size=b, scale=scale)
