"""The report as data: sections of paragraphs, notes, code, tables and figures, rendered to HTML
(:mod:`ecgfoundry.report.html`) and Markdown (:mod:`ecgfoundry.report.markdown`) alike.

Text blocks take a small subset of Markdown inline syntax, the same in both outputs: `code` spans
and **bold**.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Sequence, Union

__all__ = ["Text", "Note", "Code", "Table", "Figure", "Section", "Document", "Block", "slug"]


@dataclass
class Text:
    """A paragraph."""

    text: str


@dataclass
class Note:
    """Something missing or worth a warning (shown highlighted)."""

    text: str


@dataclass
class Code:
    """Preformatted text (commands)."""

    text: str


@dataclass
class Table:
    """A table of strings (cells are formatted by the caller)."""

    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    caption: str | None = None

    @classmethod
    def from_frame(cls, frame, caption: str | None = None, max_rows: int | None = 40, digits: int = 3) -> "Table":
        """From a pandas DataFrame; floats to ``digits`` decimals; at most ``max_rows`` rows (noted)."""
        import math

        def fmt(v):
            if isinstance(v, float):
                return "" if math.isnan(v) else f"{v:.{digits}f}"
            return str(v)

        rows = [[fmt(v) for v in r] for r in frame.itertuples(index=False)]
        if max_rows is not None and len(rows) > max_rows:
            extra = f"first {max_rows} of {len(rows)} rows"
            caption = f"{caption} ({extra})" if caption else extra
            rows = rows[:max_rows]
        return cls([str(c) for c in frame.columns], rows, caption)


@dataclass
class Figure:
    """A PNG figure; ``name`` is its file stem next to report.md."""

    name: str
    png: bytes
    caption: str
    alt: str = ""


Block = Union[Text, Note, Code, Table, Figure]


@dataclass
class Section:
    title: str
    blocks: list = field(default_factory=list)

    def add(self, *blocks: Block) -> "Section":
        self.blocks.extend(blocks)
        return self


@dataclass
class Document:
    title: str
    sections: list[Section] = field(default_factory=list)

    def figures(self) -> list[Figure]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Figure)]


def slug(text: str) -> str:
    """Anchor id of a section title.

    >>> slug("AUROC and CMRS per missingness type")
    'auroc-and-cmrs-per-missingness-type'
    """
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
