"""Summaries of a dataset folder or a cache: records, splits, label counts, fs and lengths, problems."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ecgfoundry.errors import EcgDataError
from ecgfoundry.io.base import RecordSource
from ecgfoundry.signals.leads import LEADS


@dataclass
class DatasetSummary:
    """What ``ecgfoundry data inspect`` prints."""

    name: str
    reader: str
    root: str
    n_records: int
    splits: dict[str, int]
    folds: dict[int, int]
    label_set: str | None
    label_counts: dict[str, int]
    label_names: dict[str, str]
    fs_counts: dict[float, int]
    seconds_counts: dict[float, int]
    n_with_text: int
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    label_sets: dict[str, int] = field(default_factory=dict)
    deep: dict[str, int] = field(default_factory=dict)
    lead_counts: dict[str, int] = field(default_factory=dict)
    """``"12 of 12"`` or ``"2 of 12 (II, V1)"`` -> records: the standard leads the files hold
    (header scan), or the leads observed in them (``deep``: flat or invalid leads do not count)."""


def _leads_key(leads) -> str:
    leads = tuple(leads)
    if len(leads) == len(LEADS):
        return f"12 of {len(LEADS)}"
    return f"{len(leads)} of {len(LEADS)} ({', '.join(leads) or 'none'})"


def _record_notes(dropped: Counter, header_notes: dict, lead_c: Counter, sec_c: Counter,
                  fs_c: Counter, from_headers: bool) -> list[str]:
    """Dataset-level notes from what the records (headers or reads) showed."""
    notes = []
    for names, n in dropped.most_common():
        notes.append(f"{n:,} record(s) carry channels that are not standard leads ({names}): dropped, "
                     "the 12 standard leads kept")
    for text, (n, example) in header_notes.items():
        notes.append(f"{n:,} header(s): {text} (e.g. {example})")
    total = sum(sec_c.values())
    if total:
        secs = sorted(s for s, k in sec_c.items() for _ in range(k))
        median = secs[len(secs) // 2]
        few = sum(k for key, k in lead_c.items() if not key.startswith("12 of"))
        if median > 60 or (few and from_headers):
            length = f"{median / 60:.1f} min" if median >= 60 else f"{median:g} s"
            rates = ", ".join(f"{f:g} Hz" for f in sorted(fs_c))
            leads = "; ".join(f"{key} × {k:,}" for key, k in lead_c.most_common(3))
            notes.append(f"records last {length} (median) at {rates}, with {leads}; `data cache` keeps "
                         "--seconds of each (--crop first/center) and marks absent leads unobserved")
    return notes


def _unlabelled_problem(source: RecordSource) -> str | None:
    """A problem line when the dataset has label sets but not one record carries a label (a wrong
    index table or labels column, or a folder read as the wrong format)."""
    table = source.table
    if not source.label_sets or len(table) == 0 or "codes" not in table.columns:
        return None
    if any(len(c) for c in table["codes"] if isinstance(c, (tuple, list))):
        return None
    where = getattr(source, "index_path", None) or source.root
    return (f"{where}: none of the {len(table):,} records has a label (every label set is empty for all "
            "of them): check the labels column of the index, or open the folder with --format / --table")


def summarize(source: RecordSource, label_set: str | None = None, deep: bool = False,
              progress: bool = True, errors: str = "skip") -> DatasetSummary:
    """Summarise a dataset: header scan of every record (or a full read with ``deep=True``).

    The header scan makes every check a read makes that needs no samples (record line, sampling
    rate, signal lines, lead names, signal files present), so a plain inspect and a deep one
    disagree only on what only the samples show. ``problems`` lists the index rows skipped when
    the dataset was opened, then the records that failed; ``lead_counts`` says which of the 12
    standard leads the records hold; ``notes`` adds the reader's notes and what the records showed
    (dropped extra channels, header oddities, long or few-lead records). ``errors="raise"``
    stops at the first record that fails instead of listing it.
    """
    from ecgfoundry.progress import track

    table = source.table
    splits = {k: int(v) for k, v in table["split"].value_counts().items()} if "split" in table else {}
    folds = ({int(k): int(v) for k, v in sorted(table["fold"].value_counts().items())}
             if "fold" in table.columns else {})
    counts, names, ls_name = {}, {}, None
    if source.label_sets:
        ls = source.get_label_set(label_set or getattr(source, "inspect_label_set", None))
        ls_name = ls.name
        y, classes = source.labels(ls.name)
        counts = {c: int(n) for c, n in zip(classes, y.sum(0))}
        describe = getattr(source, "describe_class", None)
        if describe:
            names = {c: describe(ls.name, c) for c in classes}
    fs_c: Counter = Counter()
    sec_c: Counter = Counter()
    lead_c: Counter = Counter()
    dropped_c: Counter = Counter()
    header_notes: dict[str, tuple[int, str]] = {}
    problems: list[str] = [f"{p.record_id}: {p.message}" for p in source.row_problems]
    deep_stats: dict[str, int] = {}
    if deep:
        source.problems.clear()
        n_nan_free, partial_leads, n_read = 0, 0, 0
        for _, rec in source.iter_records(progress=progress, description=f"reading {source.name}",
                                          errors=errors):
            n_read += 1
            fs_c[rec.fs] += 1
            sec_c[round(rec.seconds, 2)] += 1
            lead_obs = rec.observed.any(axis=1)
            lead_c[_leads_key(ld for ld, o in zip(LEADS, lead_obs) if o)] += 1
            if rec.meta.get("dropped_channels"):
                dropped_c[str(rec.meta["dropped_channels"])] += 1
            if not lead_obs.all():
                partial_leads += 1
            if rec.observed[lead_obs].all():
                n_nan_free += 1
        problems += [f"{p.record_id}: {p.message}" for p in source.problems]
        deep_stats = {"read": n_read, "records with unobserved leads": partial_leads,
                      "records fully observed in their present leads": n_nan_free}
    else:
        for i in track(range(len(source)), f"scanning {source.name} headers", enabled=progress):
            try:
                info = source.header_info(i)
            except EcgDataError as exc:
                if errors == "raise":
                    raise
                problems.append(f"{table['record_id'].iloc[i]}: {exc}")
                continue
            fs_c[info.fs] += 1
            sec_c[round(info.n_samples / info.fs, 2)] += 1
            lead_c[_leads_key(info.leads)] += 1
            if info.dropped:
                dropped_c[", ".join(info.dropped)] += 1
            for text in info.notes:
                n, example = header_notes.get(text, (0, str(table["record_id"].iloc[i])))
                header_notes[text] = (n + 1, example)
    n_text = int(sum(1 for t in table.get("text", []) if isinstance(t, str) and t.strip()))
    unlabelled = _unlabelled_problem(source)
    if unlabelled:
        problems.insert(0, unlabelled)
    return DatasetSummary(
        name=source.name, reader=type(source).__name__, root=str(source.root), n_records=len(source),
        splits=splits, folds=folds, label_set=ls_name, label_counts=counts, label_names=names,
        fs_counts=dict(sorted(fs_c.items())), seconds_counts=dict(sorted(sec_c.items())),
        n_with_text=n_text, problems=problems,
        notes=list(getattr(source, "notes", [])) + _record_notes(dropped_c, header_notes, lead_c, sec_c, fs_c, not deep),
        label_sets={k: len(v.classes) for k, v in source.label_sets.items()}, deep=deep_stats,
        lead_counts=dict(lead_c.most_common()))


def summarize_store(store) -> DatasetSummary:
    """Summary of a cache folder (no file parsing: everything is in the store)."""
    table = store.table
    counts, ls_name = {}, store.info.get("default_label_set")
    if ls_name:
        y, classes = store.labels(ls_name)
        counts = {c: int(n) for c, n in zip(classes, y.sum(0))}
    observed_leads = np.asarray(store.observed[:, :, :].any(axis=2)) if len(store) <= 20000 else None
    deep = {}
    if observed_leads is not None:
        deep["records with unobserved leads"] = int((~observed_leads).any(axis=1).sum())
    return DatasetSummary(
        name=store.name, reader="ArrayStore", root=str(store.path), n_records=len(store),
        splits={k: int(v) for k, v in table["split"].value_counts().items()},
        folds=({int(k): int(v) for k, v in sorted(table["fold"].value_counts().items())}
               if "fold" in table.columns else {}),
        label_set=ls_name, label_counts=counts, label_names={},
        fs_counts={store.fs: len(store)}, seconds_counts={store.info["seconds"]: len(store)},
        n_with_text=int((table["text"].astype(str).str.strip() != "").sum()) if "text" in table else 0,
        problems=[f"{p['record_id']}: {p['message']}" for p in store.info.get("skipped", [])],
        notes=store.info.get("notes", []),
        label_sets={k: len(v["classes"]) for k, v in store.info["label_sets"].items()}, deep=deep)
