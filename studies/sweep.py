"""ARS hyperparameter sweep (paper Sec. 4.2): hypervolume against one ARSSampler knob.

Every value of ``--knob`` runs ARSSampler studies on each problem and seed (the benchmark's
``run_one``), all other knobs at their defaults or as ``--ars`` sets them; the table and the
plot show the final normalised hypervolume (median, min, max over seeds) and the median
seconds per suggestion per value; the JSON keeps each run's hypervolume after every trial.

    python -m studies.sweep --knob n_directions --values 100,400,1000,3000 \\
        --problems BraninCurrin,DTLZ2 --seeds 5 --trials 50 --out results/sweep_n_directions
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import statistics
import sys
from typing import Any
import warnings

import optuna

from studies.benchmark import add_common_arguments
from studies.benchmark import check_common
from studies.benchmark import make_sampler
from studies.benchmark import run_one
from studies.benchmark import seed_range

# The knobs of Algorithm 1 a sweep can vary, with the type of their values.
KNOBS: dict[str, type] = {
    "n_directions": int,
    "top_fraction": float,
    "horizon": int,
    "n_iterations": int,
    "max_step": float,
    "n_policies": int,
    "hidden": int,
    "step_size": float,
    "noise": float,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--knob", required=True, choices=sorted(KNOBS))
    parser.add_argument("--values", required=True, help="comma-separated values of the knob")
    add_common_arguments(parser, problems="BraninCurrin,DTLZ2", seeds=5)
    parser.add_argument("--out", type=Path, default=None, help="folder for JSON and PNG")
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG")


def _parse(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[dict[str, Any]]:
    """One ARSSampler kwargs dict per value; every bad option ends in ``parser.error``."""
    _, base = check_common(parser, args)
    settings = []
    for text in args.values.split(","):
        try:
            kwargs = base | {args.knob: KNOBS[args.knob](text)}  # the swept value wins
            make_sampler("ars", 0, args.startup, **kwargs)  # ARSSampler checks the value
        except (ValueError, TypeError) as err:
            parser.error(f"--values: {args.knob}={text!r}: {err}")
        settings.append(kwargs)
    return settings


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    settings = _parse(parser, args)
    out = args.out or Path("results") / f"sweep_{args.knob}"
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore")  # as in the benchmark: notices would drown the table
    rows: list[dict[str, Any]] = []
    for kwargs in settings:
        value = kwargs[args.knob]
        for problem in args.problems.split(","):
            runs = [
                run_one(problem, "ars", seed, args.trials, args.startup, **kwargs)
                for seed in seed_range(args)
            ]
            hv = [r["hv"][-1] for r in runs]
            seconds = [s for r in runs for s in r["seconds"][args.startup :]] or [0.0]
            rows.append(
                {
                    "value": value,
                    "problem": problem,
                    "hv": hv,
                    "hv_curves": [r["hv"] for r in runs],  # per seed, after each trial
                    "hv_median": statistics.median(hv),
                    "sec_median": statistics.median(seconds),
                }
            )
            print(
                f"# {args.knob}={value} {problem}: HV {rows[-1]['hv_median']:.3f}",
                file=sys.stderr,
                flush=True,
            )
    print(f"{args.knob} | problem | HV@{args.trials} med [min, max] | s/suggest med")
    for r in rows:
        print(
            f"{r['value']} | {r['problem']} | {r['hv_median']:.3f} "
            f"[{min(r['hv']):.3f}, {max(r['hv']):.3f}] | {r['sec_median']:.2f}"
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(
        json.dumps({"args": vars(args) | {"out": str(out)}, "rows": rows}, indent=1)
    )
    if not args.no_plot:
        _plot(rows, knob=args.knob, trials=args.trials, path=out / "sweep.png")
    print(f"wrote {out}")
    return 0


def _plot(rows: list[dict[str, Any]], *, knob: str, trials: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for problem in dict.fromkeys(r["problem"] for r in rows):
        group = [r for r in rows if r["problem"] == problem]
        x = [r["value"] for r in group]
        ax.plot(x, [r["hv_median"] for r in group], marker="o", label=problem)
        ax.fill_between(x, [min(r["hv"]) for r in group], [max(r["hv"]) for r in group], alpha=0.2)
    ax.set_xscale("log")
    ax.set_xlabel(knob)
    ax.set_ylabel(f"normalised HV after {trials} trials")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m studies.sweep",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return run(parser, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
