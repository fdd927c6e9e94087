"""Pretraining: the loop, its configuration, checkpoints and distributed setup (imported by the CLI only)."""
