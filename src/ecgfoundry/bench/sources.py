"""Embedding sources the benchmark can be pointed at: our checkpoints and the external adapters.

A model is named on the command line as

* a run folder of ``ecgfoundry pretrain`` (its latest checkpoint) or a checkpoint folder, shown in
  the tables under the run folder's name (``runs/pretrain/ptbxl-scar`` -> ``ptbxl-scar``), or the
  name of a shipped model (``ecgfoundry models list``) when no such folder exists;
* an adapter name (:func:`ecgfoundry.bench.adapters.list_adapters`), whose weights are given
  separately as ``NAME=PATH`` (``--weights``); ``NAME=random`` builds the architecture with random
  weights (smoke tests; shown as ``NAME-random``);
* either of these as ``LABEL=SPEC`` to choose the name shown in the tables.

:class:`CheckpointSource` wraps an :class:`~ecgfoundry.models.ecg_text.ECGTextModel` and returns
its encoder's tokens and token mask (``EncoderOutput``), which the benchmark pools.

Every source carries the rate and length it wants its data at: ``fs`` / ``seconds`` (a checkpoint:
its encoder's ``fs``, the benchmark's ``--seconds``; an adapter: the ``native_fs`` /
``native_seconds`` of its published pipeline). The benchmark harmonises each dataset once per
such rate (:class:`ecgfoundry.bench.datasets.DatasetsByRate`), so an external model never
receives data that was first brought down to our checkpoints' 100 Hz.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

RANDOM_WEIGHTS = "random"


@dataclass(frozen=True)
class ModelSpec:
    """A model named for the benchmark.

    Attributes
    ----------
    label : str
        Name in the tables and the embedding cache.
    kind : {"checkpoint", "adapter"}
    target : str
        Checkpoint folder (resolved) or adapter name.
    weights : str or None
        Adapter weights path, ``"random"``, or None for checkpoints.
    """

    label: str
    kind: str
    target: str
    weights: str | None = None


class CheckpointSource:
    """Token embeddings of one of our ECG-text checkpoints.

    Parameters
    ----------
    model : ECGTextModel
        Put in eval mode here; the masker is never applied.
    name : str
        Cache / table name.
    checkpoint : str
        Where it was loaded from (recorded in the summary).
    """

    def __init__(self, model: Any, name: str, checkpoint: str = ""):
        self.model = model.eval()
        self.name = name
        self.checkpoint = checkpoint
        self.fs = float(model.cfg.encoder.fs)
        self.seconds = None  # the benchmark's --seconds
        self.fingerprint = _file_digest(Path(checkpoint) / "model.safetensors") if checkpoint else None

    def embed(self, batch):
        """``EncoderOutput`` (tokens ``(N, M, D)``, token_observed ``(N, M)``) of ``batch``."""
        import torch

        signal = torch.as_tensor(np.asarray(batch.signal), dtype=torch.float32)
        observed = torch.as_tensor(np.asarray(batch.observed), dtype=torch.bool)
        with torch.inference_mode():
            return self.model.ecg_tokens(signal, observed)


def _file_digest(path: Path) -> str | None:
    """sha1 of a weights file (None when absent): identifies the weights the embeddings came from."""
    import hashlib

    if not path.is_file():
        return None
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _label_for_checkpoint(path: Path) -> str:
    path = path.resolve()
    if (path / "checkpoints").is_dir():
        return path.name
    if path.parent.name == "checkpoints":
        return f"{path.parent.parent.name}@{path.name}"
    return path.name


def parse_weights(items: Sequence[str]) -> dict[str, str]:
    """``["ecg-fm=/models/ecg_fm.pt", ...]`` -> ``{"ecg-fm": "/models/ecg_fm.pt"}``."""
    out: dict[str, str] = {}
    for item in items or ():
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise ValueError(f"--weights: expected NAME=PATH, got {item!r}")
        if name.strip() in out:
            raise ValueError(f"--weights: {name.strip()} given twice")
        out[name.strip()] = path.strip()
    return out


def parse_model_specs(items: Sequence[str], weights: Mapping[str, str] | None = None) -> list[ModelSpec]:
    """Turn the ``--models`` arguments into :class:`ModelSpec` (see module docstring).

    Raises
    ------
    ValueError
        For a name that is neither a folder nor an adapter, an adapter without weights (the message
        says where to put them), ``--weights`` for a model not in the list, or two models with one label.
    """
    from ecgfoundry.bench.adapters import list_adapters
    from ecgfoundry.checkpoint import resolve_checkpoint
    from ecgfoundry.pretrained import list_pretrained, pretrained_folder

    weights = dict(weights or {})
    adapters = list_adapters()
    specs: list[ModelSpec] = []
    for item in items:
        label, sep, target = item.partition("=")
        if not sep or Path(item).exists():
            label, target = "", item
        label, target = label.strip(), target.strip()
        if Path(target).exists():
            folder = resolve_checkpoint(target)
            specs.append(ModelSpec(label or _label_for_checkpoint(Path(target)), "checkpoint", str(folder)))
        elif target in adapters:
            w = weights.pop(target, None)
            if w is None:
                specs.append(ModelSpec(label or target, "adapter", target, None))
                continue
            shown = label or (f"{target}-random" if w == RANDOM_WEIGHTS else target)
            specs.append(ModelSpec(shown, "adapter", target, w))
        elif len(Path(target).parts) == 1 and target in list_pretrained():
            specs.append(ModelSpec(label or target, "checkpoint", str(pretrained_folder(target))))
        else:
            raise ValueError(f"model {target!r}: no such run folder or checkpoint, not a shipped model "
                             f"({', '.join(list_pretrained()) or 'none'}) and not an adapter "
                             f"(adapters: {', '.join(list_adapters(include_tiny=False))})")
    if weights:
        raise ValueError(f"--weights given for {', '.join(sorted(weights))}, which --models does not name")
    labels = [s.label for s in specs]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise ValueError(f"two models would be shown as {dup[0]!r}; name them: --models LABEL=PATH ...")
    return specs


def open_source(spec: ModelSpec, device: str = "cpu", batch_size: int = 16) -> Any:
    """Load the model of ``spec``: a :class:`CheckpointSource` or an adapter (weights checked here).

    Raises
    ------
    WeightsNotFoundError
        For an adapter without weights at the given path (or none given); the message says what to
        download and where to pass it.
    """
    if spec.kind == "checkpoint":
        from ecgfoundry.checkpoint import load_model

        return CheckpointSource(load_model(spec.target, map_location=device), spec.label, spec.target)
    from ecgfoundry.bench.adapters import create_adapter

    pretrained = spec.weights != RANDOM_WEIGHTS
    adapter = create_adapter(spec.target, spec.weights if pretrained else None, device=device,
                             batch_size=batch_size, pretrained=pretrained)
    adapter.name = spec.label
    adapter.fs, adapter.seconds = adapter.native_fs, adapter.native_seconds  # the data it is given
    if pretrained:  # path, size and time of the weights file: hashing gigabytes on every run is too slow
        w = Path(spec.weights).expanduser()
        st = w.stat() if w.exists() else None
        adapter.fingerprint = f"{w.resolve()}:{st.st_size}:{st.st_mtime_ns}" if st else None
    else:  # random weights differ on every build: never reuse their embeddings
        import uuid

        adapter.fingerprint = f"random:{uuid.uuid4().hex}"
    return adapter
