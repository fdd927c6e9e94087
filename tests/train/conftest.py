import pytest

from ..synth_store import cached_synth


@pytest.fixture(scope="session")
def synth_store(tmp_path_factory):
    """A small synthetic dataset, cached (100 Hz, 10 s)."""
    return cached_synth(tmp_path_factory.mktemp("synth"), 96, 1)
