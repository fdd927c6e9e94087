import pytest

from ecgfoundry.cli.main import main


@pytest.fixture(scope="session")
def synth_store(tmp_path_factory):
    """A small synthetic dataset, cached (100 Hz, 10 s)."""
    from ecgfoundry.io.store import ArrayStore

    root = tmp_path_factory.mktemp("synth")
    assert main(["synth", "--n", "96", "--seed", "1", "--out", str(root / "data")]) == 0
    assert main(["data", "cache", str(root / "data"), "--out", str(root / "cache"), "--no-progress"]) == 0
    return ArrayStore(root / "cache")
