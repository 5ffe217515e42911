"""``python -m studies <command>``: the project's command line.

Commands: ``compress`` (search deployable int8 networks, :mod:`studies.compress`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import sys

from studies import compress


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studies")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    compress_parser = commands.add_parser(
        "compress",
        help="search deployable int8 networks (4 objectives, MCU limits as constraints)",
        description=compress.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compress.add_arguments(compress_parser)
    args = parser.parse_args(argv)
    if args.command == "compress":
        return compress.run_checked(compress_parser, args)
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
