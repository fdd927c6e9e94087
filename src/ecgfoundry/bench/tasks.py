"""Binary benchmark tasks: CD and AF from a store's label sets, or any ``label_set:class``.

Holistic benchmark of Filice et al., "Looking Beyond Accuracy: A Holistic Benchmark of ECG Foundation
Models" (arXiv 2601.21830): every probe is a binary classifier, for conduction disturbance (CD,
built by each reader from the dataset's own CD subclasses) and atrial fibrillation (AF).
"""

from __future__ import annotations

from dataclasses import dataclass

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
    """

    name: str
    label_set: str
    cls: str

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
    """
    if isinstance(spec, Task):
        return spec
    spec = spec.strip()
    if ":" in spec:
        label_set, _, cls = spec.partition(":")
        label_set, cls = label_set.strip(), cls.strip()
        if not label_set or not cls:
            raise ValueError(f"task {spec!r}: expected 'label_set:class'")
        return Task(f"{label_set}:{cls}", label_set, cls)
    if not spec:
        raise ValueError("empty task name")
    return Task(spec, spec, spec)


def task_labels(store, task: str | Task) -> np.ndarray:
    """Binary targets ``(N,)`` int8 (1 = positive) of ``task`` for every record of ``store``.

    Parameters
    ----------
    store : ArrayStore
        Anything with ``labels(label_set) -> (Y (N, K), classes)`` and ``label_set_names``.
    task : str or Task

    Raises
    ------
    TaskUnavailable
        When the store has no such label set or class (the dataset cannot be used for the task).
    """
    task = parse_task(task)
    names = list(getattr(store, "label_set_names", []))
    if task.label_set not in names:
        raise TaskUnavailable(f"{getattr(store, 'name', 'dataset')}: no label set {task.label_set!r} for task "
                              f"{task.name} (available: {', '.join(names) or 'none'})")
    y, classes = store.labels(task.label_set)
    if task.cls not in classes:
        raise TaskUnavailable(f"{getattr(store, 'name', 'dataset')}: label set {task.label_set!r} has no class "
                              f"{task.cls!r} (classes: {', '.join(classes)})")
    return (np.asarray(y)[:, classes.index(task.cls)] > 0.5).astype(np.int8)
