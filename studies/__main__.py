"""``python -m studies <command>``: the project's command line.

Commands: ``compress`` (search deployable int8 networks, :mod:`studies.compress`),
``benchmark`` (samplers side by side, :mod:`studies.benchmark`), ``sweep`` (hypervolume
against one ARS knob, :mod:`studies.sweep`) and ``report`` (Pareto table and plots of a stored
study, :mod:`studies.report`). Also installed as ``optuna-ars``.

Only the chosen command's module is imported, so ``--help`` and the commands that need no
optional extra work on a plain ``pip install optuna-ars``; a command that needs a missing
extra says which one to install.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from collections.abc import Sequence
import importlib
import sys
from types import ModuleType
from typing import NoReturn

_Runner = Callable[[ModuleType, argparse.ArgumentParser, argparse.Namespace], int]
# name: (module with add_arguments, one-line help, runner)
_COMMANDS: dict[str, tuple[str, str, _Runner]] = {
    "compress": (
        "studies.compress",
        "search deployable int8 networks (4 objectives, MCU limits as constraints)",
        lambda module, parser, args: module.run_checked(parser, args),
    ),
    "benchmark": (
        "studies.benchmark",
        "samplers side by side on BoTorch test problems and the evaluator (HV, s/suggestion)",
        lambda module, parser, args: module.run(parser, args),
    ),
    "sweep": (
        "studies.sweep",
        "ARS hyperparameter sweep (paper Sec. 4.2): hypervolume against one knob",
        lambda module, parser, args: module.run(parser, args),
    ),
    "report": (
        "studies.report",
        "feasible Pareto table and plots of a stored study",
        lambda module, _parser, args: module.run(args),
    ),
}
# Top-level modules of pyproject.toml's optional extras: which extra a missing one is in.
EXTRAS = {
    **dict.fromkeys(("onnx", "onnxruntime", "onnxscript", "torch_pruning", "aeon"), "evaluators"),
    **dict.fromkeys(
        ("matplotlib", "plotly", "optuna_dashboard", "optuna_integration", "psycopg2"), "studies"
    ),
    **dict.fromkeys(("litert_torch", "ai_edge_litert", "torchao", "tflite_micro"), "tflm"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: the process's arguments) and run the command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m studies")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    subparsers, module = {}, None
    for name, (module_name, help_, _) in _COMMANDS.items():
        sub = commands.add_parser(
            name, help=help_, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        subparsers[name] = sub
        if name == chosen:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as err:
                _missing_extra(sub, name, err)
            sub.description = module.__doc__
            module.add_arguments(sub)
    args = parser.parse_args(argv)
    assert module is not None  # parse_args exits unless a known command was chosen
    try:
        return _COMMANDS[args.command][2](module, subparsers[args.command], args)
    except ModuleNotFoundError as err:
        _missing_extra(subparsers[args.command], args.command, err)


def _missing_extra(
    parser: argparse.ArgumentParser, command: str, err: ModuleNotFoundError
) -> NoReturn:
    """Exit 2 naming the extra to install when ``err`` is a module of one; else re-raise."""
    extra = EXTRAS.get((err.name or "").partition(".")[0])
    if extra is None:
        raise err
    parser.error(
        f"{command} needs the optional extra '{extra}' (module {err.name} is not installed): "
        f"pip install 'optuna-ars[{extra}]'"
    )


if __name__ == "__main__":
    sys.exit(main())
