"""Loading third-party checkpoints without unrestricted pickle, and the key filters around them.

Two formats are read:

* ``.safetensors`` files (``safetensors.torch.load_file``): plain tensors, nothing executed;
* anything else with ``torch.load(path, map_location="cpu", weights_only=True)``, PyTorch's
  restricted unpickler, which only rebuilds tensors and a few containers.

Training checkpoints often carry metadata next to the weights: fairseq / fairseq-signals store
their configuration as ``omegaconf`` objects (``{"cfg": DictConfig, "model": state_dict, ...}``),
scripts save numpy scalars (``"val_auroc"``). The restricted unpickler refuses those. For globals
from a short list of *metadata* modules (:data:`METADATA_MODULES`) this loader substitutes an
inert stand-in class, so the checkpoint's own code never runs and the metadata is simply dropped;
any other global (``os.system``, ``builtins.eval``, a model class, ...) makes the load fail with
:class:`UnsafeCheckpointError`. Nothing ever falls back to ``weights_only=False``.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import torch

__all__ = ["WeightsNotFoundError", "UnsafeCheckpointError", "CheckpointKeyError", "METADATA_MODULES", "METADATA_GLOBALS",
           "load_state_dict_file", "strip_prefixes", "drop_keys", "rename_weight_norm", "load_strict"]

METADATA_MODULES: tuple[str, ...] = ("omegaconf", "argparse", "typing", "numpy", "pathlib", "enum",
                                     "fairseq", "fairseq_signals", "_codecs")
"""Top-level modules whose globals may appear as checkpoint *metadata*; they are replaced by inert
stand-ins (never imported, never called). ``_codecs`` is how numpy scalars pickle their bytes."""

METADATA_GLOBALS: frozenset[str] = frozenset(
    f"builtins.{name}" for name in ("dict", "list", "tuple", "set", "frozenset", "int", "float", "str", "bool",
                                    "bytes", "object", "type", "slice", "getattr")) | {"copyreg._reconstructor"}
"""Single globals that metadata objects reference (``omegaconf`` stores ``object_type=dict``; enums
pickle through ``getattr``); like :data:`METADATA_MODULES` they become inert stand-ins."""

_MAX_STUBS = 256
_GLOBAL_RE = re.compile(r"GLOBAL ([A-Za-z_][\w.]*)")
_SAFE_SUFFIXES = (".safetensors",)
_DIR_CANDIDATES = ("model.safetensors", "pytorch_model.bin", "model.pt", "model.pth")


class WeightsNotFoundError(FileNotFoundError):
    """The weights file is absent; the message says what to download, from where, and how to pass it."""


class UnsafeCheckpointError(ValueError):
    """The checkpoint needs unrestricted unpickling (code execution) to load; it is refused."""


class CheckpointKeyError(KeyError):
    """The checkpoint's keys or shapes do not match the architecture (after the documented filters)."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


def _missing(path: str | Path | None, model: str, filename: str, source: str) -> WeightsNotFoundError:
    where = "no path given" if path is None else f"not found at {path}"
    return WeightsNotFoundError(
        f"{model} weights {where}: download {filename} from {source} and pass --weights PATH "
        f"(weights=PATH in Python). Adapters never download anything themselves.")


def _resolve(path: str | Path | None, model: str, filename: str, source: str) -> Path:
    if path is None:
        raise _missing(path, model, filename, source)
    p = Path(path).expanduser()
    if p.is_dir():
        for name in (*_DIR_CANDIDATES, filename):
            if (p / name).is_file():
                return p / name
        raise _missing(p / filename, model, filename, source)
    if not p.is_file():
        raise _missing(p, model, filename, source)
    return p


def _stub(full_name: str) -> type:
    """An inert class standing in for the global ``full_name``: it stores what it is given."""

    def __init__(self, *args, **kwargs):  # REDUCE: stub(*args)
        self.args, self.kwargs = args, kwargs

    def __setstate__(self, state):  # BUILD
        self.state = state

    module, _, name = full_name.rpartition(".")
    return type(f"Stub_{name}", (), {"__init__": __init__, "__setstate__": __setstate__,
                                     "__module__": "ecgfoundry.bench.adapters._weights",
                                     "stands_for": full_name})


def _torch_load(path: Path):
    """``torch.load(weights_only=True)``, stubbing metadata globals one by one as they are met."""
    stubs: list[tuple[type, str]] = []
    mmap = _is_zip(path)
    for _ in range(_MAX_STUBS):
        try:
            with torch.serialization.safe_globals(list(stubs)):
                return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
        except (pickle.UnpicklingError, RuntimeError) as exc:
            text = str(exc)
            if not isinstance(exc, pickle.UnpicklingError) and "weights_only" not in text.lower():
                raise  # a corrupt file, not a refusal
            match = _GLOBAL_RE.search(text)
            if match is None:
                raise UnsafeCheckpointError(_refusal(path, text)) from None
            full = match.group(1)
            if "." not in full:  # torch names builtins without their module
                full = f"builtins.{full}"
            allowed = full.split(".")[0] in METADATA_MODULES or full in METADATA_GLOBALS
            if not allowed or any(full == s for _, s in stubs):
                raise UnsafeCheckpointError(_refusal(path, f"it needs the global {full}")) from None
            stubs.append((_stub(full), full))
    raise UnsafeCheckpointError(_refusal(path, f"more than {_MAX_STUBS} metadata globals"))


def _refusal(path: Path, why: str) -> str:
    why = why.strip().splitlines()[0] if why.strip() else "restricted unpickling failed"
    return (f"refusing to load {path}: {why}. ecgfoundry only reads weights with torch.load("
            f"weights_only=True) or safetensors and never runs code from a checkpoint. If you trust the "
            f"file, convert it once yourself, e.g. ckpt = torch.load(PATH, weights_only=False); "
            f"safetensors.torch.save_file(<its state dict>, 'weights.safetensors'), and pass that file.")


def _is_zip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


def _is_state_dict(obj) -> bool:
    return isinstance(obj, Mapping) and len(obj) > 0 and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def _unwrap(obj, containers: Sequence[str], path: Path) -> dict[str, torch.Tensor]:
    """Find the state dict inside ``obj``: itself, or under the first matching container key."""
    seen = []
    for _ in range(4):  # containers nest at most a few levels ({"model": {"state_dict": ...}})
        if _is_state_dict(obj):
            return {k: v for k, v in obj.items()}
        if not isinstance(obj, Mapping):
            break
        seen.append(sorted(map(str, obj.keys()))[:12])
        for key in containers:
            if key in obj and isinstance(obj[key], Mapping):
                obj = obj[key]
                break
        else:
            break
    raise CheckpointKeyError(
        f"{path}: no state dict found (looked at the top level and under {list(containers)}; "
        f"keys seen: {seen})")


def load_state_dict_file(path: str | Path | None, *, model: str, filename: str, source: str,
                         containers: Sequence[str] = ("state_dict", "model", "model_state_dict",
                                                      "module")) -> dict[str, torch.Tensor]:
    """Read a state dict from safetensors or a restricted ``torch.load``.

    Parameters
    ----------
    path : str or Path or None
        A weights file, or a folder holding ``model.safetensors`` / ``pytorch_model.bin`` /
        ``filename`` (a Hugging Face snapshot folder works).
    model, filename, source : str
        Used in the error message when the file is absent: the model's name, the file to download
        and where it is published.
    containers : sequence of str
        Keys under which training checkpoints store the weights (``{"model": ...}`` for fairseq,
        ``{"state_dict": ...}`` for ECGFounder, ``{"encoder": ...}`` for ECG-JEPA), tried in order.

    Returns
    -------
    dict of str -> Tensor
        On the CPU.

    Raises
    ------
    WeightsNotFoundError
        If the file is absent (a ``FileNotFoundError``).
    UnsafeCheckpointError
        If loading would need unrestricted unpickling.
    CheckpointKeyError
        If no state dict is found in the file.
    """
    p = _resolve(path, model, filename, source)
    if p.suffix in _SAFE_SUFFIXES:
        from safetensors.torch import load_file
        return load_file(str(p), device="cpu")
    return _unwrap(_torch_load(p), containers, p)


def strip_prefixes(state: Mapping[str, torch.Tensor], prefixes: Iterable[str]) -> dict[str, torch.Tensor]:
    """Remove a leading prefix (e.g. ``"module."`` from DataParallel) wherever one is present.

    Prefixes are tried in order and may stack (``"module.encoder.x"`` with ``("module.",
    "encoder.")`` becomes ``"x"``).
    """
    out = {}
    for key, value in state.items():
        for prefix in prefixes:
            if key.startswith(prefix):
                key = key[len(prefix):]
        out[key] = value
    return out


def drop_keys(state: Mapping[str, torch.Tensor], prefixes: Iterable[str]) -> dict[str, torch.Tensor]:
    """Drop every key that starts with one of ``prefixes`` (pretraining heads, classifiers)."""
    prefixes = tuple(prefixes)
    return {k: v for k, v in state.items() if not k.startswith(prefixes)}


def rename_weight_norm(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map legacy ``weight_g`` / ``weight_v`` (``torch.nn.utils.weight_norm``) onto the
    parametrization names ``parametrizations.weight.original0`` / ``original1``
    (``torch.nn.utils.parametrizations.weight_norm``), which this package builds."""
    out = {}
    for key, value in state.items():
        if key.endswith(".weight_g"):
            key = key[: -len("weight_g")] + "parametrizations.weight.original0"
        elif key.endswith(".weight_v"):
            key = key[: -len("weight_v")] + "parametrizations.weight.original1"
        out[key] = value
    return out


def load_strict(module: torch.nn.Module, state: Mapping[str, torch.Tensor], *, what: str) -> None:
    """``module.load_state_dict(state, strict=True)`` with a readable error naming the differences."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in sorted(set(own) & set(state)) if tuple(own[k].shape) != tuple(state[k].shape)]
    if missing or unexpected or shapes:
        def head(items):
            return ", ".join(items[:8]) + (f", ... ({len(items)} in all)" if len(items) > 8 else "")
        parts = []
        if missing:
            parts.append(f"missing keys: {head(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {head(unexpected)}")
        if shapes:
            parts.append(f"shape mismatches: {head(shapes)}")
        raise CheckpointKeyError(f"{what}: checkpoint does not match the architecture ({'; '.join(parts)}). "
                                 f"Is it the right file and model size?")
    module.load_state_dict(dict(state), strict=True)
