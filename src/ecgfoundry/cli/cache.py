"""``ecgfoundry cache list`` and ``ecgfoundry cache clear``: the dataset caches and text embeddings
kept under ``$ECGFOUNDRY_CACHE`` (default ``~/.cache/ecgfoundry``)."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLE = """examples:
  ecgfoundry cache list                                  # every cache, its size and what it holds
  ecgfoundry cache clear ptbxl-ptbxl-100hz-10s-1a2b3c4d  # one of them, by the name `list` shows
  ecgfoundry cache clear --all                           # everything under the cache folder
The cache folder is $ECGFOUNDRY_CACHE when set, else $XDG_CACHE_HOME/ecgfoundry or ~/.cache/ecgfoundry.
"""


def register(sub) -> None:
    p = sub.add_parser("cache", help="list or clear the dataset caches and text embeddings",
                       description=__doc__, epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    csub = p.add_subparsers(dest="cache_command", metavar="ACTION")
    ls = csub.add_parser("list", help="the caches, their sizes and contents", epilog=EXAMPLE,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    ls.add_argument("--root", type=Path, default=None, help="cache folder (default: $ECGFOUNDRY_CACHE)")
    ls.set_defaults(func=run_list)
    cl = csub.add_parser("clear", help="remove caches by name, or all of them", epilog=EXAMPLE,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    cl.add_argument("names", nargs="*", help="cache names as `ecgfoundry cache list` shows them")
    cl.add_argument("--all", action="store_true", help="remove every cache")
    cl.add_argument("--root", type=Path, default=None, help="cache folder (default: $ECGFOUNDRY_CACHE)")
    cl.set_defaults(func=run_clear)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run_list(args) -> int:
    from ecgfoundry.cache import cache_root, human_size, list_caches

    root = args.root or cache_root()
    entries = list_caches(root)
    print(f"cache folder: {root}")
    if not entries:
        print("no caches")
        return 0
    for e in entries:
        print(f"{human_size(e.size):>9}  {e.name}  {e.description}")
    print(f"{human_size(sum(e.size for e in entries)):>9}  in all")
    return 0


def run_clear(args) -> int:
    from ecgfoundry.cache import cache_root, clear_caches, human_size
    from ecgfoundry.cli.main import UsageError

    if not args.names and not args.all:
        raise UsageError("cache clear needs cache names or --all",
                         hint="`ecgfoundry cache list` shows the names")
    if args.names and args.all:
        raise UsageError("cache clear takes names or --all, not both")
    root = args.root or cache_root()
    removed = clear_caches(None if args.all else list(args.names), root)
    for e in removed:
        print(f"removed {e.path} ({human_size(e.size)})")
    if not removed:
        print(f"nothing to remove in {root}")
    return 0
