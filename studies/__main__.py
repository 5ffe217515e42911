"""``python -m studies <command>``: the project's command line.

Commands: ``compress`` (search deployable int8 networks, :mod:`studies.compress`),
``benchmark`` (samplers side by side, :mod:`studies.benchmark`), ``sweep`` (hypervolume
against one ARS knob, :mod:`studies.sweep`) and ``report`` (Pareto table and plots of a stored
study, :mod:`studies.report`). Also installed as ``optuna-ars``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from collections.abc import Sequence
import sys
from types import ModuleType

from studies import benchmark
from studies import compress
from studies import report
from studies import sweep

_Runner = Callable[[argparse.ArgumentParser, argparse.Namespace], int]
# name: (module with add_arguments, one-line help, runner)
_COMMANDS: dict[str, tuple[ModuleType, str, _Runner]] = {
    "compress": (
        compress,
        "search deployable int8 networks (4 objectives, MCU limits as constraints)",
        compress.run_checked,
    ),
    "benchmark": (
        benchmark,
        "samplers side by side on BoTorch test problems and the evaluator (HV, s/suggestion)",
        benchmark.run,
    ),
    "sweep": (
        sweep,
        "ARS hyperparameter sweep (paper Sec. 4.2): hypervolume against one knob",
        sweep.run,
    ),
    "report": (
        report,
        "feasible Pareto table and plots of a stored study",
        lambda _parser, args: report.run(args),
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studies")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    parsers = {}
    for name, (module, help_, _) in _COMMANDS.items():
        parsers[name] = commands.add_parser(
            name,
            help=help_,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(parsers[name])
    args = parser.parse_args(argv)
    return _COMMANDS[args.command][2](parsers[args.command], args)


if __name__ == "__main__":
    sys.exit(main())
