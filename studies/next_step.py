"""Same history, several samplers: how much does each one's next point add?

A paired comparison of acquisition functions with less noise than whole studies (where
every choice changes the history of all later ones). One sampler (``--history``) runs a
study of ``--trials`` trials; then at every ``--every``-th trial count ``k`` from ``--first``
on, each of ``--samplers`` gets the first ``k`` trials of that history and suggests one point,
which is evaluated. Reported: the point's true hypervolume improvement over those ``k``
trials (feasible points only, the problem's reference point, normalised like
``studies.benchmark``), per ``k`` and summed per sampler.

    python -m studies.next_step --problem VehicleSafety --history gp --trials 40 \\
        --samplers ars,gp --out results/next_step.json
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import json
from pathlib import Path
import sys
from typing import Any
from typing import Literal
import warnings

import numpy as np
import optuna

from optuna_ars._constraints import LIST_KEY
from studies.benchmark import PROBLEMS
from studies.benchmark import SAMPLERS
from studies.benchmark import make_objective
from studies.benchmark import make_problem
from studies.benchmark import make_sampler
from studies.benchmark import normalized_hypervolume
from studies.benchmark import parse_ars


def _hypervolume(trials: Sequence[optuna.trial.FrozenTrial], problem: Any) -> float:
    losses = np.array([t.values for t in trials])  # (k, m)
    feasible = np.array([all(c <= 0 for c in t.constraints.values()) for t in trials])
    return normalized_hypervolume(losses, feasible, problem)


def next_steps(
    *,
    problem_name: str,
    history: str,
    samplers: Sequence[str],
    seed: int,
    n_trials: int,
    first: int,
    every: int,
    n_startup: int,
    ars_kwargs: dict[str, Any],
) -> list[dict[str, Any]]:
    """One row per history length ``k``: each sampler's next point's hypervolume gain."""
    problem = make_problem(problem_name)
    objective = make_objective(problem)
    directions: list[Literal["minimize"]] = ["minimize"] * problem.num_objectives
    kw = ars_kwargs if history == "ars" else {}
    base = optuna.create_study(
        directions=directions, sampler=make_sampler(history, seed, n_startup, **kw)
    )
    base.optimize(objective, n_trials=n_trials)
    # Without the list-form constraints ARSSampler adds for optuna-dashboard: a peer reading
    # trial.constraints would see each constraint twice.
    past = [
        optuna.trial.create_trial(
            state=t.state,
            params=t.params,
            distributions=t.distributions,
            values=t.values,
            user_attrs=t.user_attrs,
            system_attrs={k: v for k, v in t.system_attrs.items() if k != LIST_KEY},
        )
        for t in base.trials
    ]
    rows = []
    for k in range(first, n_trials, every):
        before = _hypervolume(past[:k], problem)
        row: dict[str, Any] = {"k": k}
        for name in samplers:
            kw = ars_kwargs if name == "ars" else {}
            study = optuna.create_study(
                directions=directions, sampler=make_sampler(name, seed + k, n_startup, **kw)
            )
            study.add_trials(past[:k])
            trial = study.ask()
            study.tell(trial, objective(trial))
            row[name] = _hypervolume(study.trials, problem) - before
        rows.append(row)
        print(f"# k = {k}: " + ", ".join(f"{s} {row[s]:.4g}" for s in samplers), file=sys.stderr)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studies.next_step", description=__doc__)
    parser.add_argument("--problem", default="VehicleSafety", help=", ".join(PROBLEMS))
    parser.add_argument("--history", default="gp", help="the sampler that makes the history")
    parser.add_argument("--samplers", default="ars,gp", help=", ".join(SAMPLERS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trials", type=int, default=40, help="length of the history")
    parser.add_argument("--first", type=int, default=15, help="first history length k")
    parser.add_argument("--every", type=int, default=2, help="step between history lengths")
    parser.add_argument("--startup", type=int, default=10, help="start-up trials")
    parser.add_argument("--ars", default="{}", help="JSON of extra ARSSampler arguments")
    parser.add_argument("--out", type=Path, default=Path("results/next_step.json"))
    args = parser.parse_args(argv)
    samplers = args.samplers.split(",")
    for name in [args.history, *samplers]:
        if name not in SAMPLERS:
            parser.error(f"unknown sampler {name!r}; choose from {', '.join(SAMPLERS)}")
    if args.problem not in PROBLEMS:
        parser.error(f"unknown problem {args.problem!r}; choose from {', '.join(PROBLEMS)}")
    if not (1 <= args.first < args.trials and args.every >= 1):
        parser.error(
            f"--first {args.first} --trials {args.trials} --every {args.every}: "
            "need 1 <= first < trials and every >= 1"
        )
    ars_kwargs = parse_ars(parser, args.ars, args.startup)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore")  # peers' experimental notices
    rows = next_steps(
        problem_name=args.problem,
        history=args.history,
        samplers=samplers,
        seed=args.seed,
        n_trials=args.trials,
        first=args.first,
        every=args.every,
        n_startup=args.startup,
        ars_kwargs=ars_kwargs,
    )
    totals = {s: sum(r[s] for r in rows) for s in samplers}
    print("k | " + " | ".join(samplers))
    for r in rows:
        print(f"{r['k']} | " + " | ".join(f"{r[s]:.4f}" for s in samplers))
    print("total | " + " | ".join(f"{totals[s]:.4f}" for s in samplers))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"args": vars(args) | {"out": str(args.out)}, "rows": rows, "total": totals})
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
