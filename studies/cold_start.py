"""``python -m studies.cold_start``: seconds of a resumed study's first ARSSampler suggestion,
with and without the GP hyperparameters ARSSampler stores in the study.

    python -m studies.cold_start --trials 40 --out docs/data/cold_start.json

A synthetic study shaped like ``studies compress``'s (27 float parameters, 4 objectives,
3 constraints) gets ``--trials`` random trials and one ARSSampler trial (which stores its
fitted hyperparameters); then a new ARSSampler (an empty in-process cache, as in a new
process) suggests once as it does now (warm-started from the stored hyperparameters) and once
with them ignored (a cold fit, as before they were stored). Prints a table, writes JSON.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import json
from pathlib import Path
import time
from typing import Any

import numpy as np
import optuna

from optuna_ars import ARSSampler
from optuna_ars import _surrogate
from optuna_ars import sampler as sampler_module

DIM = 27
BOUNDS = [(0.0, 1.0), (0.0, 1e6), (0.0, 262144.0), (0.0, 1e9)]


def objective(trial: optuna.Trial) -> tuple[float, float, float, float]:
    """Cheap stand-in for the evaluator: error, flash, SRAM, FLOPs and their limits."""
    x = np.array([trial.suggest_float(f"p{i}", 0.0, 1.0) for i in range(DIM)])
    error = float(np.clip(0.3 + 0.5 * (x[0] - 0.4) ** 2 + 0.3 * np.sin(6 * x[1]) * x[2], 0, 1))
    flash = float(2e6 * x[3:12].mean() + 5e4)
    sram = float(5e5 * x[12:20].mean() + 1e4)
    flops = float(2e9 * x[20:27].mean() ** 2 + 1e6)
    for key, value, (_, limit) in zip(
        ("flash", "sram", "flops"), (flash, sram, flops), BOUNDS[1:], strict=True
    ):
        trial.set_constraint(key, value - limit)
    return error, flash, sram, flops


def first_suggestion(study: optuna.Study, *, stored: bool, seed: int) -> dict[str, Any]:
    """One trial by a new ARSSampler; seconds of its GP fit and of the whole suggestion."""
    fits: list[float] = []
    real_fit, real_load = _surrogate.fit_gps, sampler_module._load_gp_states

    def timed_fit(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        out = real_fit(*args, **kwargs)
        fits.append(time.perf_counter() - start)
        return out

    _surrogate.fit_gps = timed_fit
    if not stored:
        sampler_module._load_gp_states = lambda *a, **k: None
    try:
        study.sampler = ARSSampler(seed=seed, objective_bounds=BOUNDS)
        start = time.perf_counter()
        study.optimize(objective, n_trials=1)
        total = time.perf_counter() - start
    finally:
        _surrogate.fit_gps, sampler_module._load_gp_states = real_fit, real_load
    return {
        "stored": stored,
        "fit_seconds": round(sum(fits), 3),
        "suggestion_seconds": study.trials[-1].user_attrs["ars:seconds"],
        "trial_seconds": round(total, 3),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studies.cold_start", description=__doc__)
    parser.add_argument("--trials", type=int, default=40, help="stored random trials")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="JSON file to write")
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(
        directions=["minimize"] * 4, sampler=optuna.samplers.RandomSampler(seed=args.seed)
    )
    study.optimize(objective, n_trials=args.trials)
    first_suggestion(study, stored=True, seed=args.seed)  # stores the hyperparameters
    rows = [first_suggestion(study, stored=s, seed=args.seed + 1) for s in (False, True)]
    print(f"{'hyperparameters':>24} {'GP fit s':>9} {'suggestion s':>13}")
    for r in rows:
        what = "stored in the study" if r["stored"] else "none (cold fit)"
        print(f"{what:>24} {r['fit_seconds']:>9.2f} {r['suggestion_seconds']:>13.2f}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"trials": args.trials + 1, "dim": DIM, "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
