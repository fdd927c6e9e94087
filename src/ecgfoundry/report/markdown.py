"""Render a :class:`~ecgfoundry.report.document.Document` as Markdown, figures as PNG files beside it."""

from __future__ import annotations

from ecgfoundry.report.document import Code, Document, Figure, Note, Table, Text

__all__ = ["render_markdown", "figure_file"]


def figure_file(fig: Figure) -> str:
    """The PNG file name of a figure next to ``report.md``."""
    return f"{fig.name}.png"


def _cell(v) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def _table(t: Table) -> list[str]:
    lines = ["| " + " | ".join(_cell(c) for c in t.columns) + " |", "|" + "---|" * len(t.columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in t.rows]
    if t.caption:
        lines += ["", f"*{t.caption}*"]
    return lines


def render_markdown(doc: Document) -> str:
    """The Markdown text; figures are referenced as ``![caption](name.png)``."""
    lines = [f"# {doc.title}", ""]
    for s in doc.sections:
        lines += [f"## {s.title}", ""]
        for b in s.blocks:
            if isinstance(b, Text):
                lines += [b.text, ""]
            elif isinstance(b, Note):
                lines += [f"> **Note.** {b.text}", ""]
            elif isinstance(b, Code):
                lines += ["```", b.text, "```", ""]
            elif isinstance(b, Table):
                lines += _table(b) + [""]
            elif isinstance(b, Figure):
                alt = (b.alt or b.caption).replace("]", ")").replace("[", "(").replace("\n", " ")
                lines += [f"![{alt}]({figure_file(b)})", "", f"*{b.caption}*", ""]
            else:  # pragma: no cover
                raise TypeError(f"unknown block {type(b).__name__}")
    return "\n".join(lines).rstrip() + "\n"
