"""Binary benchmark tasks: CD and AF from a store's label sets, or any ``label_set:class``.

Holistic benchmark of Filice et al., "Looking Beyond Accuracy: A Holistic Benchmark of ECG Foundation
Models" (arXiv 2601.21830): every probe is a binary classifier, for conduction disturbance (CD,
built by each reader from the dataset's own CD subclasses) and atrial fibrillation (AF).

Task specs:

* ``CD``, ``AF``: the binary label set of that name (or, when a dataset has none, the class of
  that name in its default label set, see :func:`resolve_task`);
* ``label_set:class``: one class of one label set (``superdiagnostic:MI``);
* ``NAME=SPEC|SPEC|...``: one task over datasets that name the condition differently; on each
  dataset the first alternative it has is used
  (``STACH=rhythm:STACH|scored:STach|synthetic:STACH``). Which one was used is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DEFAULT_TASKS: tuple[str, ...] = ("CD", "AF")


class TaskUnavailable(KeyError):
    """The dataset has no labels for this task (recorded as a skip, not an error, by the runner)."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Task:
    """One binary task: positives are records whose ``label_set`` marks ``cls``.

    Attributes
    ----------
    name : str
        The name used in tables (``"CD"``, ``"AF"``, ``"superdiagnostic:MI"``).
    label_set : str
        A label set of the store (``ArrayStore.label_set_names``).
    cls : str
        A class of that label set.
    alternatives : tuple of (label_set, cls)
        Tried in order on a dataset without ``label_set:cls`` (``NAME=SPEC|SPEC`` tasks).
    """

    name: str
    label_set: str
    cls: str
    alternatives: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if not self.name or not self.label_set or not self.cls:
            raise ValueError(f"task needs a name, label set and class, got {self}")


def parse_task(spec: str | Task) -> Task:
    """``"CD"`` -> the binary label set CD; ``"superdiagnostic:MI"`` -> class MI of that set.

    Examples
    --------
    >>> parse_task("AF")
    Task(name='AF', label_set='AF', cls='AF')
    >>> parse_task("superdiagnostic:MI")
    Task(name='superdiagnostic:MI', label_set='superdiagnostic', cls='MI')
    >>> parse_task("TACHY=rhythm:STACH|scored:STach").alternatives
    (('scored', 'STach'),)
    """
    if isinstance(spec, Task):
        return spec
    spec = spec.strip()
    if "=" in spec:
        name, _, rest = spec.partition("=")
        name = name.strip()
        parts = [parse_task(x) for x in rest.split("|") if x.strip()]
        if not name or not parts or "=" in rest:
            raise ValueError(f"task {spec!r}: expected NAME=label_set:class|label_set:class|...")
        return Task(name, parts[0].label_set, parts[0].cls, tuple((p.label_set, p.cls) for p in parts[1:]))
    if ":" in spec:
        label_set, _, cls = spec.partition(":")
        label_set, cls = label_set.strip(), cls.strip()
        if not label_set or not cls:
            raise ValueError(f"task {spec!r}: expected 'label_set:class'")
        return Task(f"{label_set}:{cls}", label_set, cls)
    if not spec:
        raise ValueError("empty task name")
    return Task(spec, spec, spec)


def resolve_task(store, task: str | Task) -> Task:
    """The label set and class that define ``task`` on ``store``.

    A task named by a label set (``"CD"``, ``"AF"``) uses that binary label set. When the store has
    no label set of that name but its default label set has a class of that name, that class is
    used instead (the synthetic data names AF as a class of its ``synthetic`` label set); the
    returned :class:`Task` says which, so the choice is recorded with the labels.

    Raises
    ------
    TaskUnavailable
        When neither exists (the dataset cannot be used for the task).
    """
    task = parse_task(task)
    names = list(getattr(store, "label_set_names", []))
    name = getattr(store, "name", "dataset")
    if task.alternatives:
        reasons = []
        for label_set, cls in ((task.label_set, task.cls), *task.alternatives):
            try:
                return resolve_task(store, Task(task.name, label_set, cls))
            except TaskUnavailable:
                reasons.append(f"{label_set}:{cls}")
        raise TaskUnavailable(f"{name}: none of {', '.join(reasons)} exists for task {task.name} "
                              f"(label sets: {', '.join(names) or 'none'})")
    if task.label_set not in names:
        default = (getattr(store, "info", None) or {}).get("default_label_set")
        if task.label_set == task.cls and default in names and task.cls in store.labels(default)[1]:
            return Task(task.name, default, task.cls)
        raise TaskUnavailable(f"{name}: no label set {task.label_set!r} for task "
                              f"{task.name} (available: {', '.join(names) or 'none'})")
    _, classes = store.labels(task.label_set)
    if task.cls not in classes:
        raise TaskUnavailable(f"{name}: label set {task.label_set!r} has no class "
                              f"{task.cls!r} (classes: {', '.join(classes)})")
    return task


def task_labels(store, task: str | Task) -> np.ndarray:
    """Binary targets ``(N,)`` int8 (1 = positive) of ``task`` for every record of ``store``.

    Parameters
    ----------
    store : ArrayStore
        Anything with ``labels(label_set) -> (Y (N, K), classes)`` and ``label_set_names``.
    task : str or Task
        Resolved with :func:`resolve_task`.

    Raises
    ------
    TaskUnavailable
        When the store has no such label set or class (the dataset cannot be used for the task).
    """
    task = resolve_task(store, task)
    y, classes = store.labels(task.label_set)
    return (np.asarray(y)[:, classes.index(task.cls)] > 0.5).astype(np.int8)
