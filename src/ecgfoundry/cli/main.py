"""``ecgfoundry`` entry point. Each subcommand lives in its own module with ``register(sub)``;
a user's mistake prints one clear line and a hint, ``--debug`` shows the traceback."""

from __future__ import annotations

import argparse
import importlib
import sys

from ecgfoundry import __version__
from ecgfoundry.errors import EcgDataError, TrainingDiverged

# Subcommand modules, in the order ``--help`` lists them. Each defines ``register(subparsers)``
# which adds its parser and sets ``func`` (called with the parsed args).
COMMANDS = ["ecgfoundry.cli.data", "ecgfoundry.cli.synth", "ecgfoundry.cli.pretrain", "ecgfoundry.cli.reference",
            "ecgfoundry.cli.evaluate", "ecgfoundry.cli.study", "ecgfoundry.cli.bench", "ecgfoundry.cli.report",
            "ecgfoundry.cli.models", "ecgfoundry.cli.predict", "ecgfoundry.cli.cache"]


class UsageError(Exception):
    """A mistake in how a command was called; printed as one line with a hint."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


def input_scale_note(encoder, dataset: str) -> str | None:
    """A note when an encoder that sees raw millivolts (``input_norm='none'``; a registered name or an
    EncoderConfig) is trained or probed on recorded data: there, such encoders stayed near chance (issue
    20: PTB-XL zero-shot 0.59, probe 0.76), while the z-scored ones (``resnet-small``, ``resnet-cpu``)
    learn. None for synthetic data or z-scored encoders."""
    from ecgfoundry.models.registry import get_encoder_config

    cfg = get_encoder_config(encoder) if isinstance(encoder, str) else encoder
    if dataset == "synthetic" or getattr(cfg, "input_norm", "none") != "none":
        return None
    name = encoder if isinstance(encoder, str) else getattr(cfg, "kind", "encoder")
    return (f"note: encoder {name} feeds raw millivolts to its first layer (input_norm 'none'); on recorded "
            f"ECGs ({dataset}) such encoders stay near chance: prefer --encoder resnet-small or resnet-cpu "
            "(per-record, per-lead z-scored input), or pretrain --recipe ptbxl-cpu")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecgfoundry",
        description="Pretrain, stress-test and benchmark ECG foundation models.",
        epilog="Example: ecgfoundry data inspect ../shared/data/ptbxl",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true",
                        help="show full tracebacks on errors (accepted anywhere on the command line)")
    parser.add_argument("--version", action="version", version=f"ecgfoundry {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # command not implemented in this build
                continue
            raise
        module.register(sub)
    return parser


def _pop_debug(argv: list[str]) -> tuple[list[str], bool]:
    """``--debug`` may come anywhere (the hint says "run with --debug", and people append it):
    take it out before the subcommand parsers see it. Arguments after ``--`` are left alone."""
    head, sep, tail = (argv, [], [])
    if "--" in argv:
        i = argv.index("--")
        head, sep, tail = argv[:i], ["--"], argv[i + 1:]
    debug = "--debug" in head
    return [a for a in head if a != "--debug"] + sep + tail, debug


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    given = list(sys.argv[1:] if argv is None else argv)
    argv, debug = _pop_debug(given)
    args = parser.parse_args(argv)
    args.debug = args.debug or debug
    args.argv = given  # the command as typed, for the provenance commands write
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        result = args.func(args)
        return int(result or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (EcgDataError, UsageError, FileNotFoundError, FileExistsError, TimeoutError, KeyError, ValueError,
            TrainingDiverged) as exc:
        if args.debug:
            raise
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"error: {msg}", file=sys.stderr)
        hint = getattr(exc, "hint", None) or "run with --debug for the full traceback"
        print(f"hint: {hint}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
