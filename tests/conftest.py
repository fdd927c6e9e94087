"""Shared fixtures: where the real data lives (../shared/data beside the repository).

A developer without the data gets skips with a message. CI sets ``ECGFOUNDRY_REQUIRE_DATA=1``
(``.ci/run``), which turns a missing folder into a failure, so a CI machine without
``../shared/data`` cannot pass by skipping every real-data test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ECGFOUNDRY_SHARED_DATA", REPO.parent / "shared" / "data"))
REQUIRE_DATA_VAR = "ECGFOUNDRY_REQUIRE_DATA"


def data_required() -> bool:
    """True when the environment asks for missing real data to fail the tests (CI)."""
    return os.environ.get(REQUIRE_DATA_VAR, "").strip().lower() not in ("", "0", "false", "no")


def need_data(sub: str, root: Path | None = None) -> Path:
    """``root / sub`` (default root: :data:`SHARED_DATA`); when absent, a skip with a message, or a
    failure when :func:`data_required`."""
    path = (SHARED_DATA if root is None else Path(root)) / sub
    if not path.exists():
        msg = (f"real data not found at {path} (set ECGFOUNDRY_SHARED_DATA or put ../shared/data "
               f"beside the repository)")
        if data_required():
            pytest.fail(f"{msg}; {REQUIRE_DATA_VAR} is set, so missing data is a failure", pytrace=False)
        pytest.skip(msg)
    return path



@pytest.fixture(autouse=True)
def _hard_masks_cache_per_test(tmp_path, monkeypatch):
    """The stress test's Hard-mask disk cache goes to each test's own folder, never the user cache."""
    import ecgfoundry.cache

    monkeypatch.setattr(ecgfoundry.cache, "hard_masks_dir", lambda: tmp_path / "hard-masks-cache")


@pytest.fixture(scope="session")
def ptbxl_root() -> Path:
    """The real PTB-XL folder (folds 1, 9, 10); skips when absent."""
    return need_data("ptbxl")


@pytest.fixture(scope="session")
def cinc_root() -> Path:
    """The 50 real challenge-format records; skips when absent."""
    return need_data("cinc2021")
