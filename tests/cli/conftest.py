"""The evaluation fixtures (tiny synthetic store, reference, ECG-text run) for the CLI tests."""

from tests.eval.conftest import _single_thread, eval_store, tiny_reference, tiny_run  # noqa: F401
