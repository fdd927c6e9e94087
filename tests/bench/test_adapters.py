"""Adapters for external ECG foundation models: checkpoint round trips, preprocessing facts, safety.

Everything runs on tiny variants (same module structure, small widths) with random weights, except
the full-size parameter counts and key names, which are built on the ``meta`` device.
"""

from __future__ import annotations

import argparse
import os
import sys
import types

import numpy as np
import pytest
import torch

from ecgfoundry.batch import EcgBatch
from ecgfoundry.bench.adapters import (CheckpointKeyError, UnsafeCheckpointError, WeightsNotFoundError,
                                       create_adapter, list_adapters)
from ecgfoundry.bench.adapters._weights import load_state_dict_file

TINY = ["hubert-ecg-tiny", "ecgfounder-tiny", "ecg-fm-tiny", "ecg-jepa-tiny"]
TOKENS = {  # (M, D) on a 10 s record
    "hubert-ecg-tiny": (93, 32),  # 6000 samples / stride 64
    "ecgfounder-tiny": (625, 32),  # 5000 -> 2500 (first conv) -> 2 stride-2 stages
    "ecg-fm-tiny": (2 * 156, 32),  # two 5 s segments of 2500 samples / stride 16
    "ecg-jepa-tiny": (400, 32),  # 8 leads x 50 patches
}


def make_batch(fs: float = 100.0, seconds: float = 10.0, n: int = 2, seed: int = 0) -> EcgBatch:
    """A small canonical batch: sinusoids + noise in mV; record 1 has lead aVR unobserved."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(fs * seconds))) / fs
    gain = rng.uniform(0.3, 1.5, (n, 12, 1))
    sig = gain * np.sin(2 * np.pi * 1.1 * t) + 0.05 * rng.standard_normal((n, 12, t.size))
    obs = np.ones(sig.shape, bool)
    obs[1, 3] = False
    sig = np.where(obs, sig, 0.0).astype(np.float32)
    return EcgBatch(signal=sig, observed=obs, fs=fs)


@pytest.fixture(scope="module")
def batch() -> EcgBatch:
    return make_batch()


def _checkpoint_container(name: str, state: dict) -> object:
    """The container each model's published ``.pt``/``.pth`` file uses around its state dict."""
    if name.startswith("ecg-fm"):  # fairseq: {"model": ..., "args"/"cfg": metadata, ...}
        return {"model": state, "args": argparse.Namespace(lr=5e-5, arch="wav2vec2_cmsc"),
                "optimizer_history": [{"num_updates": 10}]}
    if name.startswith("ecgfounder"):  # save_checkpoint(state) with numpy metrics beside it
        return {"state_dict": {f"module.{k}": v for k, v in state.items()}, "step": 10000,
                "val_auroc": np.float64(0.9204)}
    if name.startswith("ecg-jepa"):
        return {"encoder": state, "epoch": 99}
    # HuBERT-ECG: the HF file holds HuBERTECG (HubertModel + pretraining heads) keys
    heads = {"final_proj.0.weight": torch.randn(8, 32), "final_proj.0.bias": torch.zeros(8),
             "label_embedding.0.weight": torch.randn(100, 8)}
    return {**state, **heads}


# -- registry -----------------------------------------------------------------------------------

def test_registry_names():
    names = list_adapters(include_tiny=False)
    assert names == sorted(["ecg-fm", "ecg-jepa", "ecgfounder", "ecgfounder-1lead", "hubert-ecg-base",
                            "hubert-ecg-large", "hubert-ecg-small"])
    assert set(TINY) <= set(list_adapters())
    with pytest.raises(KeyError, match="registered"):
        create_adapter("no-such-model", pretrained=False)


# -- round trips through the loaders ---------------------------------------------------------------

@pytest.mark.parametrize("name", TINY)
@pytest.mark.parametrize("fmt", ["safetensors", "torch_state_dict", "container"])
def test_checkpoint_round_trip(name, fmt, batch, tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    src = create_adapter(name, pretrained=False)
    state = {k: v.detach().clone().contiguous() for k, v in src.model.state_dict().items()}
    if fmt == "safetensors":
        path = tmp_path / "weights.safetensors"
        save_file(state if not name.startswith("hubert") else _checkpoint_container(name, state), str(path))
    elif fmt == "torch_state_dict":
        path = tmp_path / "weights.pt"
        torch.save(state, path)
    else:
        path = tmp_path / "weights.pth"
        torch.save(_checkpoint_container(name, state), path)

    torch.manual_seed(1)  # a different random init, so equal outputs prove the load
    dst = create_adapter(name, weights=path)
    got = dst.model.state_dict()
    assert list(got) == list(state)
    for key in state:
        assert got[key].shape == state[key].shape and torch.equal(got[key], state[key]), key
    a, b = src.embed(batch), dst.embed(batch)
    assert torch.equal(a, b)


def test_hf_snapshot_folder_is_accepted(tmp_path):
    from safetensors.torch import save_file

    src = create_adapter("hubert-ecg-tiny", pretrained=False)
    save_file({f"hubert_ecg.{k}": v.contiguous() for k, v in src.model.state_dict().items()},
              str(tmp_path / "model.safetensors"))
    dst = create_adapter("hubert-ecg-tiny", weights=tmp_path)  # a folder, prefix stripped
    x = torch.randn(1, 6000)
    with torch.no_grad():
        assert torch.equal(src.forward_tokens(x), dst.forward_tokens(x))


def test_wrong_size_checkpoint_names_the_mismatch(tmp_path):
    src = create_adapter("ecg-jepa-tiny", pretrained=False)
    state = dict(src.model.state_dict())
    state.pop("norm.bias")
    state["extra.weight"] = torch.zeros(1)
    torch.save({"encoder": state}, tmp_path / "w.pth")
    with pytest.raises(CheckpointKeyError, match=r"missing keys: norm\.bias.*unexpected keys: extra\.weight"):
        create_adapter("ecg-jepa-tiny", weights=tmp_path / "w.pth")
    with pytest.raises(CheckpointKeyError, match="shape mismatches"):
        torch.save({"encoder": {**src.model.state_dict(), "W_P.bias": torch.zeros(5)}}, tmp_path / "s.pth")
        create_adapter("ecg-jepa-tiny", weights=tmp_path / "s.pth")


def test_legacy_key_names_are_mapped(tmp_path):
    """fairseq weight-norm names (weight_g / weight_v) and a fine-tuned model's ``encoder.`` wrapper."""
    src = create_adapter("ecg-fm-tiny", pretrained=False)
    legacy = {}
    for k, v in src.model.state_dict().items():
        k = k.replace("parametrizations.weight.original0", "weight_g").replace("parametrizations.weight.original1",
                                                                                "weight_v")
        legacy[f"encoder.{k}"] = v
    legacy["proj.weight"] = torch.zeros(3, 32)  # classifier head of a fine-tuned model
    legacy["encoder.mask_emb"] = torch.zeros(32)
    torch.save({"model": legacy}, tmp_path / "finetuned.pt")
    dst = create_adapter("ecg-fm-tiny", weights=tmp_path / "finetuned.pt")
    x = torch.randn(1, 12, 2500)
    with torch.no_grad():
        assert torch.equal(src.forward_tokens(x), dst.forward_tokens(x))


# -- embeddings ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", TINY)
def test_embed_shape_and_finite(name, batch):
    adapter = create_adapter(name, pretrained=False, batch_size=1)  # batching across chunks
    tokens = adapter.embed(batch)
    assert tokens.dtype == torch.float32 and tokens.device.type == "cpu"
    assert tuple(tokens.shape) == (len(batch), *TOKENS[name])
    assert torch.isfinite(tokens).all()
    assert not adapter.model.training
    again = create_adapter(name, pretrained=False, batch_size=8)
    again.model.load_state_dict(adapter.model.state_dict())
    assert torch.allclose(again.embed(batch), tokens, atol=1e-5)  # batch size does not matter


def test_ecg_fm_first_segment_only(batch):
    adapter = create_adapter("ecg-fm-tiny", pretrained=False, segments="first")
    full = create_adapter("ecg-fm-tiny", pretrained=False)
    full.model.load_state_dict(adapter.model.state_dict())
    first, both = adapter.embed(batch), full.embed(batch)
    assert first.shape == (2, 156, 32)
    assert torch.allclose(both[:, :156], first, atol=1e-6)
    with pytest.raises(ValueError, match="segments"):
        create_adapter("ecg-fm-tiny", pretrained=False, segments="middle")


# -- preprocessing facts ----------------------------------------------------------------------------

def test_hubert_ecg_preprocessing_flattens_leads_at_100hz():
    """5 s at 100 Hz per lead, leads one after the other: lead II fills samples 500..999."""
    from ecgfoundry.bench.adapters.hubert_ecg import hubert_ecg_preprocess

    fs, t = 250.0, np.arange(2500) / 250.0
    sig = np.zeros((1, 12, t.size), np.float32)
    obs = np.zeros(sig.shape, bool)
    sig[0, 1] = np.sin(2 * np.pi * 5 * t)
    obs[0, 1] = True
    x = hubert_ecg_preprocess(EcgBatch(signal=sig, observed=obs, fs=fs))[0].numpy()
    assert x.shape == (6000,)
    energy = (x.reshape(12, 500) ** 2).mean(axis=1)
    assert energy.argmax() == 1 and energy[1] > 100 * np.delete(energy, 1).max()
    seg = x[600:950]  # away from the edges of the lead: min-max scaled to about [-1, 1]
    assert -1.1 < seg.min() < -0.8 and 0.8 < seg.max() < 1.1


def test_ecgfounder_preprocessing_500hz_10s_global_zscore(batch):
    from ecgfoundry.bench.adapters.ecgfounder import ecgfounder_preprocess

    x = ecgfounder_preprocess(batch).numpy()
    assert x.shape == (2, 12, 5000)
    flat = x.reshape(2, -1)
    np.testing.assert_allclose(flat.mean(axis=1), 0.0, atol=1e-5)
    np.testing.assert_allclose(flat.std(axis=1), 1.0, atol=1e-4)
    assert x[0].std(axis=1).std() > 0.05  # one global scale: lead amplitudes keep their ratios
    one = create_adapter("ecgfounder-tiny", pretrained=False)
    assert one.preprocess(batch).shape == (2, 12, 5000)
    single = ecgfounder_preprocess(batch, leads=(0,))
    assert single.shape == (2, 1, 5000)
    short = make_batch(fs=500.0, seconds=4.0)  # padded to 10 s
    assert ecgfounder_preprocess(short).shape == (2, 12, 5000)
    with pytest.raises(ValueError, match="fs > 80"):
        ecgfounder_preprocess(make_batch(fs=50.0))


def test_ecgfounder_filter_removes_baseline_and_mains():
    from ecgfoundry.bench.adapters.ecgfounder import ecgfounder_filter

    fs = 500.0
    t = np.arange(5000) / fs
    ecg_like = np.sin(2 * np.pi * 8 * t)
    x = (ecg_like + 2.0 + 0.5 * np.sin(2 * np.pi * 50 * t))[None]
    y = ecgfounder_filter(x, fs)[0, 500:-500]
    spectrum = np.abs(np.fft.rfft(y))
    freqs = np.fft.rfftfreq(y.size, 1 / fs)
    assert abs(y.mean()) < 0.05  # offset gone
    assert spectrum[np.argmin(abs(freqs - 50))] < 0.01 * spectrum[np.argmin(abs(freqs - 8))]


def test_ecg_fm_preprocessing_segments_and_standardises(batch):
    from ecgfoundry.bench.adapters.ecg_fm import ecg_fm_preprocess

    x, n_seg = ecg_fm_preprocess(batch)  # 10 s at 100 Hz -> 5000 samples at 500 Hz -> 2 segments
    assert n_seg == 2 and x.shape == (4, 12, 2500)
    rec1 = torch.cat([x[2], x[3]], dim=-1).numpy()  # record 1, both segments in time order
    observed = np.delete(rec1, 3, axis=0)
    np.testing.assert_allclose(observed.mean(axis=1), 0.0, atol=1e-4)
    np.testing.assert_allclose(observed.std(axis=1), 1.0, atol=1e-3)
    assert np.all(rec1[3] == 0)  # the unobserved lead stays zero ("zero" strategy)
    y, n = ecg_fm_preprocess(make_batch(fs=500.0, seconds=7.0))  # 3500 // 2500 = 1 segment
    assert n == 1 and y.shape == (2, 12, 2500)


def test_ecg_fm_linear_resampling_matches_fairseq_formula():
    from scipy.interpolate import interp1d

    from ecgfoundry.bench.adapters._signal import linear_resample

    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 1000))
    n_out = int(1000 * 500 / 360)
    ref = interp1d(np.linspace(0, n_out - 1, 1000), x, kind="linear")(np.arange(n_out))
    got, obs = linear_resample(x, np.ones(x.shape, bool), n_out)
    np.testing.assert_allclose(got, ref, atol=1e-12)
    assert obs.all()


def test_ecg_jepa_preprocessing_leads_rate_and_units():
    from ecgfoundry.bench.adapters.ecg_jepa import ecg_jepa_preprocess

    fs = 100.0
    sig = np.broadcast_to(np.arange(12, dtype=np.float32)[None, :, None] + 1, (1, 12, 1000)).copy()
    b = EcgBatch(signal=sig, observed=np.ones(sig.shape, bool), fs=fs)
    x = ecg_jepa_preprocess(b).numpy()
    assert x.shape == (1, 8, 2500)  # 10 s at 250 Hz
    np.testing.assert_allclose(x.mean(axis=-1)[0], [1, 2, 7, 8, 9, 10, 11, 12], atol=1e-4)  # I, II, V1-V6, mV


# -- absent and unsafe weights ----------------------------------------------------------------------

@pytest.mark.parametrize("name,filename", [("hubert-ecg-base", "model.safetensors"),
                                           ("ecgfounder", "12_lead_ECGFounder.pth"),
                                           ("ecgfounder-1lead", "1_lead_ECGFounder.pth"),
                                           ("ecg-fm", "mimic_iv_ecg_physionet_pretrained.pt"),
                                           ("ecg-jepa", "multiblock_epoch100.pth")])
def test_missing_weights_give_a_clear_error(name, filename, tmp_path):
    missing = tmp_path / "nowhere" / filename
    with pytest.raises(WeightsNotFoundError) as err:
        create_adapter(name, weights=missing)
    text = str(err.value)
    assert str(missing) in text and filename in text and "--weights" in text and "http" in text
    with pytest.raises(FileNotFoundError, match="no path given"):
        create_adapter(name)


class _Custom:
    def __init__(self):
        self.payload = 1


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo should-never-run",))


@pytest.mark.parametrize("extra", [_Evil(), _Custom()], ids=["os.system", "custom-class"])
def test_unrestricted_pickle_is_refused(extra, tmp_path):
    src = create_adapter("ecg-jepa-tiny", pretrained=False)
    path = tmp_path / "unsafe.pth"
    torch.save({"encoder": src.model.state_dict(), "extra": extra}, path)
    with pytest.raises(UnsafeCheckpointError, match="refusing to load"):
        create_adapter("ecg-jepa-tiny", weights=path)


def test_fairseq_omegaconf_metadata_is_skipped_not_executed(tmp_path, monkeypatch):
    """A stand-in ``omegaconf`` module pickles by reference like the real one; the loader must read
    the weights without importing or calling anything from it."""
    calls = []

    class DictConfig:
        def __init__(self, content):
            self.content = content

        def __setstate__(self, state):
            calls.append("setstate")
            self.__dict__.update(state)

    fake = types.ModuleType("omegaconf.dictconfig")
    DictConfig.__module__, DictConfig.__qualname__ = "omegaconf.dictconfig", "DictConfig"
    fake.DictConfig = DictConfig
    monkeypatch.setitem(sys.modules, "omegaconf", types.ModuleType("omegaconf"))
    monkeypatch.setitem(sys.modules, "omegaconf.dictconfig", fake)
    sd = {"w": torch.arange(3.0)}
    cfg = DictConfig({"model": {"_name": "wav2vec2_cmsc"}, "object_type": dict})
    torch.save({"cfg": cfg, "model": sd}, tmp_path / "ckpt.pt")
    monkeypatch.delitem(sys.modules, "omegaconf.dictconfig")
    monkeypatch.delitem(sys.modules, "omegaconf")
    out = load_state_dict_file(tmp_path / "ckpt.pt", model="m", filename="f", source="s")
    assert list(out) == ["w"] and torch.equal(out["w"], sd["w"]) and calls == []


# -- full-size architectures (meta device: no memory, no time) -----------------------------------------

def _n_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_hubert_ecg_full_sizes():
    from ecgfoundry.bench.adapters.hubert_ecg import build_hubert_ecg

    with torch.device("meta"):
        sizes = {s: build_hubert_ecg(s) for s in ("small", "base", "large")}
    counts = {s: _n_params(m) for s, m in sizes.items()}
    # Published sizes (Hugging Face model pages of Edoardo-BS/HuBERT-ECG-SFT-CardioLearning-{small,base}:
    # "30.3M" and "92.9M" params): the encoder plus one linear head over the 164 Cardio-Learning
    # conditions. Rounded as the Hub rounds; one transformer layer more or less would change them.
    published = {"small": 30.3, "base": 92.9}
    for size, hidden in (("small", 512), ("base", 768)):
        assert round((counts[size] + (hidden + 1) * 164) / 1e6, 1) == published[size], (size, counts[size])
    keys = sizes["base"].state_dict()
    assert keys["feature_extractor.conv_layers.0.conv.weight"].shape == (512, 1, 10)
    assert keys["encoder.pos_conv_embed.conv.parametrizations.weight.original1"].shape == (768, 48, 128)
    assert keys["encoder.layers.11.feed_forward.intermediate_dense.weight"].shape == (3072, 768)
    assert "final_proj.0.weight" not in keys  # pretraining heads are dropped on loading
    assert sizes["large"].config.hidden_size == 960 and sizes["large"].config.num_hidden_layers == 16
    model = sizes["base"]
    assert int(model._get_feat_extract_output_lengths(torch.tensor(6000))) == 93


def test_ecg_fm_full_size_matches_published_parameter_count():
    from ecgfoundry.bench.adapters.ecg_fm import ECG_FM, ECGTransformer, PretrainingHeads

    with torch.device("meta"):
        encoder, heads = ECGTransformer(ECG_FM), PretrainingHeads(ECG_FM)
        tokens = encoder(torch.empty(1, 12, 2500, device="meta"))
    assert _n_params(encoder) + _n_params(heads) == 90_883_072  # bowang-lab/ECG-FM README
    assert tuple(tokens.shape) == (1, 156, 768)
    keys = encoder.state_dict()
    assert keys["feature_extractor.conv_layers.0.0.weight"].shape == (256, 12, 2)
    assert keys["feature_extractor.conv_layers.0.2.weight"].shape == (256,)  # group norm, first layer only
    assert keys["conv_pos.pos_conv.0.parametrizations.weight.original0"].shape == (1, 1, 128)
    assert keys["encoder.layers.11.self_attn.q_proj.weight"].shape == (768, 768)
    assert "feature_extractor.conv_layers.1.2.weight" not in keys


def test_ecgfounder_full_size_keys_and_tokens():
    from ecgfoundry.bench.adapters.ecgfounder import ECGFOUNDER_12LEAD, ECGFOUNDER_1LEAD, Net1D

    with torch.device("meta"):
        model, single = Net1D(ECGFOUNDER_12LEAD), Net1D(ECGFOUNDER_1LEAD)
        feats = model.forward_features(torch.empty(1, 12, 5000, device="meta"))
    assert tuple(feats.shape) == (1, 1024, 20)
    keys = model.state_dict()
    assert keys["first_conv.conv.weight"].shape == (64, 12, 16)
    assert keys["stage_list.6.block_list.3.conv2.conv.weight"].shape == (1024, 16, 16)  # groups = 1024/16
    assert keys["stage_list.6.block_list.3.se_fc1.weight"].shape == (512, 1024)
    assert keys["dense.weight"].shape == (150, 1024)
    assert "stage_list.0.block_list.0.bn1.running_mean" in keys  # BN kept for strict loading, unused
    assert [len(s.block_list) for s in model.stage_list] == [2, 2, 2, 3, 3, 4, 4]
    assert single.state_dict()["first_conv.conv.weight"].shape == (64, 1, 16)


def test_ecg_jepa_full_size_keys():
    from ecgfoundry.bench.adapters.ecg_jepa import ECG_JEPA, ECGJEPAEncoder, cross_attention_mask

    with torch.device("meta"):
        model = ECGJEPAEncoder(ECG_JEPA)
    keys = model.state_dict()
    assert keys["pos_embed"].shape == (400, 768)
    assert keys["W_P.weight"].shape == (768, 50)
    assert keys["encoder_blocks.blocks.11.attn.qkv.weight"].shape == (2304, 768)
    assert "encoder_blocks.blocks.0.attn.qkv.bias" not in keys  # qkv_bias=False
    assert "attn_mask" not in keys
    mask = cross_attention_mask(8, 50)
    assert mask[0, 49] and mask[0, 50] and not mask[0, 51]  # same lead / same time step only
    assert int(mask.sum()) == 400 * (50 + 8 - 1)
