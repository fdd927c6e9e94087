"""The README, `demo --help` and the demo's docstring state one demo time (issue 22: they gave three)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _minutes(text: str) -> set[str]:
    return set(re.findall(r"(?:~|about )(\d+) min", text))


def test_one_demo_time():
    from ecgfoundry.cli import demo

    readme = next(line for line in (REPO / "README.md").read_text().splitlines() if line.startswith("make demo"))
    help_line = next(line for line in demo.EXAMPLE.splitlines() if "make demo" in line)
    stated = _minutes(readme) | _minutes(help_line) | _minutes(" ".join(demo.__doc__.split()))
    assert len(stated) == 1, stated
