"""Samplers on a small discrete space: how many distinct configurations they try.

The space is an int of 10 values times a categorical of 3 choices (30 configurations), two
cheap exact objectives (the issue's case: a deterministic objective learns nothing from a
repeated configuration). Per sampler and seed: distinct configurations among all trials and
among the modelled ones (after the start-up trials), and the hypervolume of the front from the
box's worst corner, normalised by the best front's (every configuration evaluated).

    python -m studies.discrete --samplers ars,gp,tpe,random --seeds 5 --trials 30 \\
        --out results/discrete.json
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
import statistics
import warnings

import numpy as np
import optuna

from studies.benchmark import SAMPLERS
from studies.benchmark import make_sampler

_CHOICES = ("a", "b", "c")
_N_STARTUP = 10
_REFERENCE = np.array([5.0, 3.0])  # worse than every configuration in both objectives


def _values(i: int, c: str) -> tuple[float, float]:
    """Two conflicting objectives of ``i`` in 0..9 and ``c`` in a, b, c (both minimised)."""
    k = _CHOICES.index(c)
    return (i - 6) ** 2 / 10 + 0.5 * k, i / 9 + (2 - k) * 0.4


def _hypervolume(points: np.ndarray) -> float:
    from optuna._hypervolume import compute_hypervolume

    return float(compute_hypervolume(points, _REFERENCE))


def run(sampler_name: str, seed: int, n_trials: int) -> dict[str, float | int | str]:
    """One study: distinct configurations and normalised hypervolume."""

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        return _values(trial.suggest_int("i", 0, 9), trial.suggest_categorical("c", _CHOICES))

    study = optuna.create_study(
        directions=["minimize", "minimize"],
        sampler=make_sampler(sampler_name, seed, n_startup=_N_STARTUP),
    )
    study.optimize(objective, n_trials=n_trials)
    configs = [(t.params["i"], t.params["c"]) for t in study.trials]
    best = _hypervolume(
        np.array([_values(i, c) for i, c in itertools.product(range(10), _CHOICES)])
    )
    return {
        "sampler": sampler_name,
        "seed": seed,
        "distinct": len(set(configs)),
        "distinct_modelled": len(set(configs[_N_STARTUP:]) - set(configs[:_N_STARTUP])),
        "hv": _hypervolume(np.array([t.values for t in study.trials])) / best,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studies.discrete", description=__doc__)
    parser.add_argument("--samplers", default="ars,gp,tpe,random", help=", ".join(SAMPLERS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--out", type=Path, default=Path("results/discrete.json"))
    args = parser.parse_args(argv)
    samplers = args.samplers.split(",")
    for s in samplers:
        if s not in SAMPLERS:
            parser.error(f"unknown sampler {s!r}; choose from {', '.join(SAMPLERS)}")
    if args.seeds < 1 or args.trials <= _N_STARTUP:
        parser.error(
            f"--seeds must be >= 1 and --trials > {_N_STARTUP}, got {args.seeds}, {args.trials}"
        )
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore")
    runs = [run(s, seed, args.trials) for s in samplers for seed in range(args.seeds)]
    print(f"sampler | distinct of {args.trials} (median [min, max]) | new after start-up | HV")
    for s in samplers:
        mine = [r for r in runs if r["sampler"] == s]

        def spread(key: str, fmt: str, mine: list[dict[str, float | int | str]] = mine) -> str:
            v = [float(r[key]) for r in mine]
            return f"{statistics.median(v):{fmt}} [{min(v):{fmt}}, {max(v):{fmt}}]"

        print(
            f"{s} | {spread('distinct', '.0f')} | {spread('distinct_modelled', '.0f')} | "
            f"{spread('hv', '.3f')}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"args": vars(args) | {"out": str(args.out)}, "runs": runs}))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
