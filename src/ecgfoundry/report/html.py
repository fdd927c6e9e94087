"""Render a :class:`~ecgfoundry.report.document.Document` as one self-contained HTML file.

Images are embedded as base64 ``data:image/png`` URIs, the style sheet is inline, there is no
script and no external URL: the file opens offline and makes no network request.
"""

from __future__ import annotations

import base64
import html
import re

from ecgfoundry.report.document import Code, Document, Figure, Note, Table, Text, slug

__all__ = ["render_html", "inline"]

_CSS = """
body { font-family: -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 0;
       color: #1c2833; background: #fafafa; line-height: 1.45; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 28px 60px; background: #ffffff;
       box-shadow: 0 0 12px rgba(0,0,0,0.06); }
h1 { font-size: 1.7em; margin: 0.2em 0 0.4em; }
h2 { font-size: 1.25em; margin-top: 2em; padding-bottom: 0.2em; border-bottom: 2px solid #e8d5d5; }
nav ol { columns: 2; column-gap: 3em; font-size: 0.92em; }
nav li { break-inside: avoid; }
code, pre { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.86em; }
code { background: #f3f3f3; padding: 0 3px; border-radius: 3px; }
pre { background: #f6f6f6; border: 1px solid #e3e3e3; padding: 10px 12px; overflow-x: auto; white-space: pre-wrap; }
.note { background: #fff8e1; border-left: 4px solid #f0b429; padding: 8px 12px; margin: 10px 0; font-size: 0.93em; }
figure { margin: 16px 0 22px; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.88em; color: #4d5656; margin-top: 4px; }
table { border-collapse: collapse; margin: 10px 0 4px; font-size: 0.86em; }
th, td { border: 1px solid #dcdcdc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f2ecec; }
tr:nth-child(even) td { background: #fbfbfb; }
.caption { font-size: 0.86em; color: #4d5656; margin-bottom: 14px; }
.tablewrap { overflow-x: auto; }
"""


def inline(text: str) -> str:
    """Escape ``text`` and turn `code` spans and **bold** into HTML.

    >>> inline("run `make demo` **now** <here>")
    'run <code>make demo</code> <strong>now</strong> &lt;here&gt;'
    """
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def _table(t: Table) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in t.columns)
    body = "".join("<tr>" + "".join(f"<td>{inline(str(v))}</td>" for v in row) + "</tr>" for row in t.rows)
    cap = f'<div class="caption">{inline(t.caption)}</div>' if t.caption else ""
    return f'<div class="tablewrap"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>{cap}'


def _figure(f: Figure) -> str:
    data = base64.b64encode(f.png).decode("ascii")
    alt = html.escape(f.alt or f.caption, quote=True)
    return (f'<figure id="fig-{html.escape(f.name)}"><img src="data:image/png;base64,{data}" alt="{alt}">'
            f"<figcaption>{inline(f.caption)}</figcaption></figure>")


def render_html(doc: Document) -> str:
    """The whole page as a string."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{html.escape(doc.title)}</title><style>{_CSS}</style></head><body><main>",
             f"<h1>{html.escape(doc.title)}</h1>"]
    if len(doc.sections) > 2:
        items = "".join(f'<li><a href="#{slug(s.title)}">{html.escape(s.title)}</a></li>' for s in doc.sections)
        parts.append(f"<nav><ol>{items}</ol></nav>")
    for s in doc.sections:
        parts.append(f'<section><h2 id="{slug(s.title)}">{html.escape(s.title)}</h2>')
        for b in s.blocks:
            if isinstance(b, Text):
                parts.append(f"<p>{inline(b.text)}</p>")
            elif isinstance(b, Note):
                parts.append(f'<div class="note">{inline(b.text)}</div>')
            elif isinstance(b, Code):
                parts.append(f"<pre>{html.escape(b.text)}</pre>")
            elif isinstance(b, Table):
                parts.append(_table(b))
            elif isinstance(b, Figure):
                parts.append(_figure(b))
            else:  # pragma: no cover - a programming error
                raise TypeError(f"unknown block {type(b).__name__}")
        parts.append("</section>")
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"
