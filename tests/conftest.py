"""Shared fixtures: where the real data lives (../shared/data beside the repository)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ECGFOUNDRY_SHARED_DATA", REPO.parent / "shared" / "data"))


def _need(sub: str) -> Path:
    path = SHARED_DATA / sub
    if not path.exists():
        pytest.skip(f"real data not found at {path} (set ECGFOUNDRY_SHARED_DATA or put ../shared/data "
                    f"beside the repository)")
    return path


@pytest.fixture(scope="session")
def ptbxl_root() -> Path:
    """The real PTB-XL folder (folds 1, 9, 10); skips when absent."""
    return _need("ptbxl")


@pytest.fixture(scope="session")
def cinc_root() -> Path:
    """The 50 real challenge-format records; skips when absent."""
    return _need("cinc2021")
