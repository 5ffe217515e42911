"""Seconds per suggestion against history size and dimension, samplers side by side.

Each cell fills a study with ``n`` random trials of a problem, then times ``--repeats``
suggestions of each sampler on that same history (the suggested trials are told FAIL so the
history stays at ``n``). The first suggestion of a sampler on a history is timed too: it
includes a cold GP fit. Problems: CarSideImpact (7-D, 4 objectives, the issue's reference
case) and DTLZ2 with 2 objectives at the dimensions asked for (BraninCurrin for 2 inputs).

    python -m studies.speed --samplers ars,gp --sizes 25,50,100,200 --dims 2,8,20 \\
        --out results/speed.json
    python -m studies.speed --samplers ars --sizes 100 --dims "" \\
        --ars '{"n_directions": 3000}' --out results/speed_paper_n.json   # the paper's N
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import statistics
import sys
import time
from typing import Any
import warnings

import optuna

from studies.benchmark import SAMPLERS
from studies.benchmark import make_objective
from studies.benchmark import make_sampler
from studies.benchmark import parse_ars

_N_STARTUP = 10
"""Start-up trials of every timed sampler (the smallest history size too)."""


def _problem(dim: int | None) -> Any:
    """CarSideImpact (``None``), else a 2-objective problem of ``dim`` inputs: DTLZ2 needs
    ``dim > 2``, so 2 inputs take BraninCurrin."""
    from botorch.test_functions import multi_objective as mo

    if dim is None:
        return mo.CarSideImpact()
    return mo.BraninCurrin() if dim == 2 else mo.DTLZ2(dim=dim, num_objectives=2)


def time_suggestions(
    *,
    sampler_name: str,
    dim: int | None,
    n: int,
    repeats: int,
    seed: int,
    ars_kwargs: dict[str, Any],
) -> list[float]:
    """Seconds of ``repeats`` suggestions on a history of ``n`` random trials
    (``ars_kwargs`` go to ARSSampler)."""
    problem = _problem(dim)
    objective = make_objective(problem)
    study = optuna.create_study(
        directions=["minimize"] * problem.num_objectives,
        sampler=optuna.samplers.RandomSampler(seed=seed),
    )
    study.optimize(objective, n_trials=n)
    kwargs = ars_kwargs if sampler_name == "ars" else {}
    study.sampler = make_sampler(sampler_name, seed, n_startup=_N_STARTUP, **kwargs)
    seconds = []
    for _ in range(repeats):
        trial = study.ask()
        started = time.perf_counter()
        objective(trial)
        seconds.append(time.perf_counter() - started)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studies.speed", description=__doc__)
    parser.add_argument("--samplers", default="ars,gp")
    parser.add_argument("--sizes", default="25,50,100,200", help="history sizes n")
    parser.add_argument(
        "--dims",
        default="2,8,20",
        help="dimensions at n=100: DTLZ2 (2: BraninCurrin); CarSideImpact is always run",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ars", default="{}", help="JSON of extra ARSSampler arguments")
    parser.add_argument("--out", type=Path, default=Path("results/speed.json"))
    args = parser.parse_args(argv)
    samplers = args.samplers.split(",")
    for s in samplers:
        if s not in SAMPLERS:
            parser.error(f"unknown sampler {s!r}; choose from {', '.join(SAMPLERS)}")
    try:
        sizes = [int(v) for v in args.sizes.split(",")]
        dims = [int(v) for v in args.dims.split(",") if v]
    except ValueError as err:
        parser.error(f"--sizes and --dims take comma-separated integers ({err})")
    if min(sizes) < _N_STARTUP or (dims and min(dims) < 2) or args.repeats < 1:
        parser.error(
            f"sizes must be >= {_N_STARTUP} (the start-up trials), dims >= 2, repeats >= 1"
        )
    ars_kwargs = parse_ars(parser, args.ars, _N_STARTUP)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore")
    cells: list[tuple[str, int | None, int]] = [("CarSideImpact", None, n) for n in sizes]
    cells += [("BraninCurrin" if d == 2 else f"DTLZ2-{d}D", d, 100) for d in dims]
    rows = []
    print("problem | n | " + " | ".join(f"{s} s (first; median rest)" for s in samplers))
    for name, dim, n in cells:
        row: dict[str, Any] = {"problem": name, "n": n}
        for s in samplers:
            sec = time_suggestions(
                sampler_name=s, dim=dim, n=n, repeats=args.repeats, seed=0, ars_kwargs=ars_kwargs
            )
            row[s] = {"first": sec[0], "median_rest": statistics.median(sec[1:] or sec)}
        rows.append(row)
        print(
            f"{name} | {n} | "
            + " | ".join(f"{row[s]['first']:.2f}; {row[s]['median_rest']:.2f}" for s in samplers),
            flush=True,
        )
    if len(samplers) > 1:
        ref = samplers[1]
        for s in samplers[:1]:
            ratios = [r[s]["median_rest"] / r[ref]["median_rest"] for r in rows]
            print(f"{s}/{ref} time ratio: median {statistics.median(ratios):.2f}", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"args": vars(args) | {"out": str(args.out)}, "rows": rows}))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
