"""Find what a run folder holds: pretraining runs, evaluation outputs, benchmark outputs, provenance.

The layout the report expects (``make demo`` writes exactly this; every part is optional)::

    RUN/
      provenance.json      what was run: {"title", "seed", "data", "label_set", "started", "finished",
                           "steps": [{"name", "command", "seconds", "returncode"}], "versions": {...}}
      pretrain/<name>/     `ecgfoundry pretrain --out`: model.json, train.json, metrics.csv, checkpoints/
      eval/<name>/         `ecgfoundry evaluate --out`: metrics.json (+ report.md); <name> as in pretrain/
      bench/               `ecgfoundry bench --out`: summary.json, tables.md, tables/*.csv, figures/*.png
                           (a UMAP as *umap*.png, or *umap*.csv with columns x, y[, label][, model]);
                           its work/ folder is not read

Folders are recognised by their content, not their names, up to three levels below ``RUN``: a
pretraining run has ``model.json`` and a checkpoint; an evaluation has a ``metrics.json`` with a
``zero_shot`` section; a benchmark output has a ``summary.json`` (or is a folder named ``bench``).
Dataset caches (``store.json``) and checkpoint folders are not searched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecgfoundry.errors import EcgDataError

__all__ = ["PretrainRun", "EvalRun", "BenchOutput", "RunFolder", "scan_run", "PROVENANCE", "model_role"]

PROVENANCE = "provenance.json"
_SKIP_DIRS = {"checkpoints", "cache", "__pycache__", ".git"}


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise EcgDataError(path, None, f"corrupt JSON ({exc})") from None
    if not isinstance(data, dict):
        raise EcgDataError(path, None, f"expected a JSON object, got {type(data).__name__}")
    return data


def model_role(model_cfg: dict[str, Any]) -> str:
    """``"SCAR"`` for the SCAR objective, ``"baseline"`` otherwise (CLIP, MERL, ...)."""
    return "SCAR" if model_cfg.get("objective") == "scar" else "baseline"


@dataclass
class PretrainRun:
    """One ``ecgfoundry pretrain`` run folder."""

    name: str
    path: Path
    model_cfg: dict[str, Any]
    train_cfg: dict[str, Any]
    checkpoint: Path | None
    metrics_csv: Path | None

    @property
    def role(self) -> str:
        return model_role(self.model_cfg)

    @property
    def preset(self) -> str:
        return str(self.model_cfg.get("name") or self.model_cfg.get("objective") or "?")


@dataclass
class EvalRun:
    """One ``ecgfoundry evaluate`` output folder (``metrics`` is its ``metrics.json``)."""

    name: str
    path: Path
    metrics: dict[str, Any]
    pretrain: PretrainRun | None = None

    @property
    def role(self) -> str:
        if self.pretrain is not None:
            return self.pretrain.role
        return "SCAR" if "scar" in self.name.lower() else "baseline"


@dataclass
class BenchOutput:
    """A ``ecgfoundry bench --out`` folder: whatever tables and figures it holds."""

    path: Path
    summary: dict[str, Any] | None
    csv: list[Path] = field(default_factory=list)
    markdown: list[Path] = field(default_factory=list)
    png: list[Path] = field(default_factory=list)


@dataclass
class RunFolder:
    """Everything :func:`scan_run` found."""

    root: Path
    provenance: dict[str, Any]
    pretrain: list[PretrainRun]
    evals: list[EvalRun]
    bench: BenchOutput | None
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.pretrain or self.evals or self.bench)


def _walk(root: Path, depth: int = 3):
    yield root
    if depth == 0:
        return
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir())
    except OSError:
        return
    for child in children:
        if child.name in _SKIP_DIRS or child.name.startswith(".") or (child / "store.json").exists():
            continue
        yield from _walk(child, depth - 1)


def _bench_files(folder: Path) -> list[Path]:
    """Files of a benchmark output and its first level of sub-folders (``tables/``, ``figures/``),
    not its work folder (embeddings, job results, datasets)."""
    files = [p for p in folder.iterdir() if p.is_file()]
    for sub in folder.iterdir():
        if sub.is_dir() and sub.name not in ("work", "cache", "data") and not (sub / "store.json").exists():
            files += [p for p in sub.iterdir() if p.is_file()]
    return sorted(p for p in files if ".partial" not in p.name)


def _latest_checkpoint(path: Path) -> Path | None:
    from ecgfoundry.checkpoint import resolve_checkpoint

    try:
        return resolve_checkpoint(path)
    except EcgDataError:
        return None


def _same(a: str | Path | None, b: Path, bases: list[Path]) -> bool:
    """Does path ``a`` (as written in a metrics.json, maybe relative) point into folder ``b``?"""
    if not a:
        return False
    a = Path(a)
    target = b.resolve()
    for cand in ([a] if a.is_absolute() else [base / a for base in bases]):
        try:
            r = cand.resolve()
        except OSError:
            continue
        if r == target or target in r.parents:
            return True
    return False


def scan_run(root: str | Path) -> RunFolder:
    """Find the pretraining runs, evaluations and benchmark output under ``root`` (see module docstring).

    Raises
    ------
    FileNotFoundError
        When ``root`` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such run folder")
    prov_path = root / PROVENANCE
    provenance = _json(prov_path) if prov_path.exists() else {}
    pretrain: list[PretrainRun] = []
    evals: list[EvalRun] = []
    bench: BenchOutput | None = None
    notes: list[str] = []
    for d in _walk(root):
        if (d / "model.json").exists() and ((d / "checkpoints").is_dir() or (d / "model.safetensors").exists()):
            train = _json(d / "train.json") if (d / "train.json").exists() else {}
            ckpt = _latest_checkpoint(d)
            if ckpt is None:
                notes.append(f"{d}: pretraining run without a finished checkpoint (skipped for the figures)")
            pretrain.append(PretrainRun(d.name, d, _json(d / "model.json"), train, ckpt,
                                        d / "metrics.csv" if (d / "metrics.csv").exists() else None))
            continue
        if (d / "metrics.json").exists():
            m = _json(d / "metrics.json")
            if "zero_shot" in m:
                evals.append(EvalRun(d.name, d, m))
                continue
        if d != root and bench is None and ((d / "summary.json").exists() or d.name == "bench"):
            summary = _json(d / "summary.json") if (d / "summary.json").exists() else None
            files = _bench_files(d)
            bench = BenchOutput(d, summary, [p for p in files if p.suffix == ".csv"],
                                [p for p in files if p.suffix == ".md"], [p for p in files if p.suffix == ".png"])
    bases = [Path.cwd(), root, root.parent]
    for ev in evals:
        for run in pretrain:
            own = [ev.path] + bases  # evaluate writes paths relative to its own folder
            if (_same(ev.metrics.get("checkpoint"), run.path, own) or _same(ev.metrics.get("model"), run.path, own)):
                ev.pretrain = run
                break
        else:
            ev.pretrain = next((r for r in pretrain if r.name == ev.name), None)
    # SCAR first, then the baselines, each in name order
    pretrain.sort(key=lambda r: (r.role != "SCAR", r.name))
    evals.sort(key=lambda e: (e.role != "SCAR", e.name))
    return RunFolder(root, provenance, pretrain, evals, bench, notes)
