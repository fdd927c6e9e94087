"""One way to make the small cached synthetic datasets the test fixtures share."""

from __future__ import annotations

from pathlib import Path


def cached_synth(root: Path, n: int, seed: int):
    """``ecgfoundry synth --n N --seed S`` into ``root/data``, cached into ``root/cache`` (100 Hz, 10 s);
    returns the :class:`~ecgfoundry.io.store.ArrayStore` of the cache."""
    from ecgfoundry.cli.main import main
    from ecgfoundry.io.store import ArrayStore

    assert main(["synth", "--n", str(n), "--seed", str(seed), "--out", str(root / "data"), "--no-progress"]) == 0
    assert main(["data", "cache", str(root / "data"), "--out", str(root / "cache"), "--no-progress"]) == 0
    return ArrayStore(root / "cache")
