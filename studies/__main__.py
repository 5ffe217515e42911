"""``python -m studies <command>``: the project's command line.

Commands: ``compress`` (search deployable int8 networks, :mod:`studies.compress`),
``benchmark`` (samplers side by side, :mod:`studies.benchmark`) and ``report`` (Pareto table
and plots of a stored study, :mod:`studies.report`). Also installed as ``optuna-ars``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import sys

from studies import benchmark
from studies import compress
from studies import report


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
    benchmark_parser = commands.add_parser(
        "benchmark",
        help="samplers side by side on BoTorch test problems (hypervolume, s/suggestion)",
        description=benchmark.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    benchmark.add_arguments(benchmark_parser)
    report_parser = commands.add_parser(
        "report",
        help="feasible Pareto table and plots of a stored study",
        description=report.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_arguments(report_parser)
    args = parser.parse_args(argv)
    if args.command == "compress":
        return compress.run_checked(compress_parser, args)
    if args.command == "benchmark":
        return benchmark.run(benchmark_parser, args)
    if args.command == "report":
        return report.run(args)
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
