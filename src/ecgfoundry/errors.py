"""Errors that name the file and the field that is wrong."""

from __future__ import annotations

from pathlib import Path


class EcgDataError(ValueError):
    """Bad input data: a corrupt file, a missing field, an impossible value.

    Parameters
    ----------
    path : str or Path or None
        The file (or folder) that holds the problem.
    field : str or None
        The field, column, header line or key that is wrong (``"sampling rate"``, ``"# Dx"``, ...).
    message : str
        What is wrong, in plain words.
    """

    def __init__(self, path: str | Path | None, field: str | None, message: str):
        self.path = None if path is None else str(path)
        self.field = field
        self.message = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = self.path or "<input>"
        if self.field:
            return f"{where}: {self.field}: {self.message}"
        return f"{where}: {self.message}"


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite; the run stopped and kept its last good checkpoint."""


class TrainingInterrupted(RuntimeError):
    """SIGINT / SIGTERM during training: a checkpoint was saved at ``step`` in ``checkpoint``; the
    run can be continued with ``--resume``."""

    def __init__(self, message: str, step: int = 0, checkpoint: str | None = None):
        super().__init__(message)
        self.step = step
        self.checkpoint = checkpoint
