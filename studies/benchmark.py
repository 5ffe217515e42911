"""Sampler benchmark: hypervolume and seconds per suggestion, samplers side by side.

Problems are BoTorch's multi-objective test functions (minimised, with their reference points
and known maximal hypervolumes); constrained ones report ``-slack`` through
``trial.set_constraint``. ``BasicMotions`` (and its 2-epoch smoke version
``BasicMotions-quick``) is the evaluator's compression study
(:mod:`studies.evaluator_problem`; its seconds are whole trials, training included). Every
(problem, sampler, seed) runs in this process, one after the other, so the figures of one
table come from one machine state. Writes the JSON and, beside it, a PNG of HV against trials.

    python -m studies.benchmark --problems BraninCurrin --samplers ars,gp,tpe --seeds 3 \\
        --trials 50 --out results/bench.json
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
import functools
import json
from pathlib import Path
import statistics
import sys
import time
from typing import Any
from typing import Literal
import warnings

import numpy as np
import optuna

from studies.evaluator_problem import EVALUATOR_PROBLEMS
from studies.evaluator_problem import EvaluatorProblem
from studies.workers import make_storage
from studies.workers import run_workers
from studies.workers import worker_seed

PROBLEMS = (
    "BraninCurrin",
    "VehicleSafety",
    "CarSideImpact",
    "DTLZ2",
    "Penicillin",
    "DiscBrake",
    "C2DTLZ2",
    "ConstrainedBraninCurrin",
    *EVALUATOR_PROBLEMS,
)
SAMPLERS = ("ars", "gp", "tpe", "nsga2", "random", "botorch-parego", "botorch")


def make_problem(name: str) -> Any:
    """A BoTorch test problem in minimisation form (``negate=False``), or the evaluator's
    study (:mod:`studies.evaluator_problem`)."""
    from botorch.test_functions import multi_objective as mo

    if name in EVALUATOR_PROBLEMS:
        return EvaluatorProblem(quick=EVALUATOR_PROBLEMS[name])
    if name == "DTLZ2":
        return mo.DTLZ2(dim=6, num_objectives=2)
    if name == "C2DTLZ2":
        return mo.C2DTLZ2(dim=6, num_objectives=2)
    return getattr(mo, name)()


def make_sampler(
    name: str, seed: int, n_startup: int, **ars_kwargs: Any
) -> optuna.samplers.BaseSampler:
    """A sampler by short name; ``ars_kwargs`` go to ARSSampler."""
    if name == "ars":
        from optuna_ars import ARSSampler

        return ARSSampler(seed=seed, n_startup_trials=n_startup, **ars_kwargs)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=n_startup)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name in ("botorch", "botorch-parego"):
        from optuna_integration import BoTorchSampler
        from optuna_integration.botorch import qparego_candidates_func

        candidates = qparego_candidates_func if name == "botorch-parego" else None
        return BoTorchSampler(candidates_func=candidates, n_startup_trials=n_startup, seed=seed)
    raise ValueError(f"unknown sampler {name!r}; choose from {', '.join(SAMPLERS)}")


def make_objective(problem: Any) -> Callable[[optuna.Trial], tuple[float, ...]]:
    """The study objective of a problem from :func:`make_problem`."""
    import torch

    if isinstance(problem, EvaluatorProblem):
        return problem.objective()
    bounds = problem.bounds.double()  # (2, d)
    constrained = hasattr(problem, "evaluate_slack")

    def objective(trial: optuna.Trial) -> tuple[float, ...]:
        x = torch.tensor(
            [
                [
                    trial.suggest_float(f"x{i}", float(lo), float(hi))
                    for i, (lo, hi) in enumerate(bounds.T.tolist())
                ]
            ],
            dtype=torch.float64,
        )
        if constrained:
            for j, s in enumerate(problem.evaluate_slack(x)[0].tolist()):
                trial.set_constraint(f"c{j}", -s)
        return tuple(float(v) for v in problem(x)[0])

    return objective


def normalized_hypervolume(values: np.ndarray, feasible: np.ndarray, problem: Any) -> float:
    """Hypervolume of the feasible points w.r.t. the problem's reference point, over its known
    maximum; in the problem's own units where BoTorch gives none (DiscBrake)."""
    from optuna._hypervolume import compute_hypervolume

    ref = problem.ref_point.double().numpy()  # loss form, since negate=False
    pts = values[feasible & (values <= ref).all(1)]
    hv = compute_hypervolume(pts, ref) if len(pts) else 0.0
    try:
        return float(hv / problem.max_hv)
    except NotImplementedError:  # BoTorch's public answer for "no known maximum"
        return float(hv)


def run_one(
    problem_name: str,
    sampler_name: str,
    seed: int,
    n_trials: int,
    n_startup: int,
    storage: str | None = None,
    workers: int = 1,
    **ars_kwargs: Any,
) -> dict[str, Any]:
    """One study; returns HV after every trial and seconds per suggestion.

    With ``storage`` (a spec for :func:`studies.workers.make_storage`) the study is kept there
    as ``PROBLEM-SAMPLER-seedSEED`` (a fresh one each run: an earlier study of that name is
    replaced), for optuna-dashboard or ``report``. ``workers > 1`` runs it in that many worker
    processes (``storage`` required); the seconds are then each trial's wall time, start to
    complete, which for these cheap problems is the suggestion.
    """
    problem = make_problem(problem_name)
    catch: tuple[type[Exception], ...] = getattr(problem, "catch", ())  # failed trials
    directions: list[Literal["minimize"]] = ["minimize"] * problem.num_objectives
    name = f"{problem_name}-{sampler_name}-seed{seed}"
    if workers > 1 and storage is None:
        raise ValueError(f"workers={workers} needs a storage the worker processes can share")
    opened = None if storage is None else make_storage(storage, heartbeat=False)
    if opened is not None and name in optuna.get_all_study_names(opened):
        optuna.delete_study(study_name=name, storage=opened)
    if workers > 1 and storage is not None and opened is not None:  # both set: narrows types
        codes = run_workers(
            n_workers=workers,
            target=ProblemObjective(problem_name),
            storage=storage,
            study_name=name,
            n_trials=n_trials,
            directions=directions,
            seed=seed,
            sampler=functools.partial(
                worker_sampler, name=sampler_name, n_startup=n_startup, **ars_kwargs
            ),
            torch_threads=1,
            catch=catch,
        )
        if any(codes):  # a dead worker leaves the study short: no hypervolume history
            raise RuntimeError(f"workers of study {name!r} exited with codes {codes}")
        study = optuna.load_study(study_name=name, storage=opened)
        trials = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
        seconds = [
            (t.datetime_complete - t.datetime_start).total_seconds()
            for t in trials
            if t.datetime_complete is not None and t.datetime_start is not None
        ]
    else:
        study = optuna.create_study(
            storage=opened,
            study_name=name if opened is not None else None,
            directions=directions,
            sampler=make_sampler(sampler_name, seed, n_startup, **ars_kwargs),
        )
        objective = make_objective(problem)
        seconds = []
        for _ in range(n_trials):
            started = time.perf_counter()
            trial = study.ask()
            try:
                values = objective(trial)  # suggestions happen here
            except catch:  # recorded as failed (its reason in the trial); the study goes on
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                study.tell(trial, values)
            finally:  # the BoTorch functions are cheap: their seconds are the suggestion's
                seconds.append(time.perf_counter() - started)
        trials = study.trials
    complete = [t.state == optuna.trial.TrialState.COMPLETE for t in trials]
    losses = np.array(  # (n, m); a failed trial adds nothing to the hypervolume
        [
            t.values if ok else [np.inf] * len(directions)
            for t, ok in zip(trials, complete, strict=True)
        ]
    )
    feasible = np.array(
        [
            ok and all(c <= 0 for c in t.constraints.values())
            for t, ok in zip(trials, complete, strict=True)
        ]
    )
    hv = [
        normalized_hypervolume(losses[: i + 1], feasible[: i + 1], problem)
        for i in range(len(trials))
    ]
    return {
        "problem": problem_name,
        "sampler": sampler_name,
        "seed": seed,
        "hv": hv,
        "seconds": seconds,
    }


@dataclass(frozen=True)
class ProblemObjective:
    """The objective of a named problem, picklable for worker processes."""

    problem: str

    def __call__(self, trial: optuna.Trial) -> tuple[float, ...]:
        return make_objective(make_problem(self.problem))(trial)


def worker_sampler(
    seed: int | None, worker: int, *, name: str, n_startup: int, **ars_kwargs: Any
) -> optuna.samplers.BaseSampler:
    """One worker's sampler: ARSSampler derives per-trial seeds itself (one seed for all
    workers); the others keep one random stream per process, so each worker gets its own."""
    own = seed if name == "ars" else worker_seed(seed, worker)
    return make_sampler(name, 0 if own is None else own, n_startup, **ars_kwargs)


def summarize(
    runs: list[dict[str, Any]], checkpoints: list[int], *, n_startup: int
) -> list[dict[str, Any]]:
    """Median and range of HV at checkpoints, median seconds per model-based suggestion
    (after the ``n_startup`` start-up trials; all of them when there are no others), per
    cell."""
    rows = []
    cells = sorted({(r["problem"], r["sampler"]) for r in runs})
    for problem, sampler in cells:
        group = [r for r in runs if r["problem"] == problem and r["sampler"] == sampler]
        row: dict[str, Any] = {"problem": problem, "sampler": sampler, "seeds": len(group)}
        for c in checkpoints:
            hv = [r["hv"][c - 1] for r in group if len(r["hv"]) >= c]
            if hv:
                row[f"hv@{c}"] = (statistics.median(hv), min(hv), max(hv))
        sec = [s for r in group for s in r["seconds"][n_startup:]] or [
            s for r in group for s in r["seconds"]
        ]
        row["sec_median"] = statistics.median(sec)
        row["sec_last"] = statistics.median(r["seconds"][-1] for r in group)
        rows.append(row)
    return rows


def mean_ranks(rows: list[dict[str, Any]], key: str) -> dict[str, float]:
    """Mean over problems of each sampler's rank by median ``key`` (1 = best, ties averaged)."""
    from scipy.stats import rankdata

    per_sampler: dict[str, list[float]] = {}
    for problem in sorted({r["problem"] for r in rows}):
        group = [r for r in rows if r["problem"] == problem and key in r]
        ranks = rankdata([-r[key][0] for r in group])
        for r, rank in zip(group, ranks, strict=True):
            per_sampler.setdefault(r["sampler"], []).append(float(rank))
    return dict(
        sorted(((s, statistics.mean(v)) for s, v in per_sampler.items()), key=lambda t: t[1])
    )


def print_table(rows: list[dict[str, Any]], checkpoints: list[int]) -> None:
    head = ["problem", "sampler", "seeds"] + [f"HV@{c} med [min, max]" for c in checkpoints]
    print(" | ".join([*head, "s/suggest med", "s at last"]))
    for row in rows:
        cells = [row["problem"], row["sampler"], str(row["seeds"])]
        for c in checkpoints:
            m = row.get(f"hv@{c}")
            cells.append(f"{m[0]:.3f} [{m[1]:.3f}, {m[2]:.3f}]" if m else "-")
        cells += [f"{row['sec_median']:.2f}", f"{row['sec_last']:.2f}"]
        print(" | ".join(cells))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``benchmark`` options."""
    add_common_arguments(parser, problems="BraninCurrin", seeds=3)
    parser.add_argument("--samplers", default="ars,gp,tpe,random", help=", ".join(SAMPLERS))
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("results/benchmark.json"),
        help="JSON results; the plot of HV against trials goes beside it (.png)",
    )
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG")
    parser.add_argument(
        "--storage",
        default=None,
        help="keep every study in this Optuna storage (e.g. sqlite:///bench.db) for "
        "optuna-dashboard; default: in memory",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes per study (needs --storage; seconds are then trial wall times)",
    )
    parser.add_argument(
        "--reference",
        choices=("inferred", "problem"),
        default="inferred",
        help="ARSSampler's hypervolume reference point: its own (inferred from the trials) or "
        "the problem's, the one the hypervolume is scored with (the peers take none)",
    )


def add_common_arguments(parser: argparse.ArgumentParser, *, problems: str, seeds: int) -> None:
    """Problems, seeds, trials, start-up trials and ``--ars`` (also used by the sweep)."""
    parser.add_argument("--problems", default=problems, help=", ".join(PROBLEMS))
    parser.add_argument("--seeds", type=int, default=seeds, help="S seeds per cell")
    parser.add_argument(
        "--first-seed", type=int, default=0, help="seeds FIRST..FIRST+S-1 (default 0)"
    )
    parser.add_argument("--trials", type=int, default=50, help="trials per study")
    parser.add_argument("--startup", type=int, default=10, help="start-up trials")
    parser.add_argument("--ars", default="{}", help="JSON of extra ARSSampler arguments")


def check_common(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> tuple[list[str], dict[str, Any]]:
    """Problems and ``--ars`` keyword arguments, checked (``parser.error`` on bad values)."""
    problems = args.problems.split(",")
    for p in problems:
        if p not in PROBLEMS:
            parser.error(f"unknown problem {p!r}; choose from {', '.join(PROBLEMS)}")
    if args.seeds < 1 or args.trials < 1 or args.startup < 0 or args.first_seed < 0:
        parser.error(
            f"--seeds {args.seeds} --trials {args.trials} --startup {args.startup} "
            f"--first-seed {args.first_seed}: seeds and trials must be >= 1, the others >= 0"
        )
    return problems, parse_ars(parser, args.ars, args.startup)


def parse_ars(parser: argparse.ArgumentParser, text: str, n_startup: int) -> dict[str, Any]:
    """The ``--ars`` JSON object as ARSSampler keyword arguments, validated by building one
    (``parser.error`` naming the bad value)."""
    try:
        ars_kwargs = json.loads(text)
        if not isinstance(ars_kwargs, dict):
            raise TypeError("not a JSON object")
        make_sampler("ars", 0, n_startup, **ars_kwargs)  # validate before running anything
    except (ValueError, TypeError) as err:
        parser.error(f"--ars {text!r}: {err}")
    return ars_kwargs


def seed_range(args: argparse.Namespace) -> range:
    """The seeds of ``--first-seed`` and ``--seeds``."""
    return range(args.first_seed, args.first_seed + args.seeds)


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run the comparison; bad options end in ``parser.error`` (exit 2)."""
    problems, ars_kwargs = check_common(parser, args)
    samplers = args.samplers.split(",")
    for s in samplers:
        if s not in SAMPLERS:
            parser.error(f"unknown sampler {s!r}; choose from {', '.join(SAMPLERS)}")
    if args.workers < 1 or (args.workers > 1 and args.storage is None):
        parser.error(f"--workers {args.workers}: needs to be >= 1, and > 1 needs --storage")
    if args.storage is not None:
        try:
            make_storage(args.storage, heartbeat=False)
        except ValueError as err:
            parser.error(str(err))
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    # Peers' experimental / numerics notices would drown the table; ARSSampler's own fallbacks
    # are recorded in its trials' user attrs (``ars:fallback``).
    warnings.simplefilter("ignore")
    runs = []
    for problem in problems:
        ars_problem_kwargs = ars_kwargs
        if args.reference == "problem":
            reference = make_problem(problem).ref_point.tolist()
            ars_problem_kwargs = ars_kwargs | {"reference_point": reference}
        for sampler in samplers:
            for seed in seed_range(args):
                kw = ars_problem_kwargs if sampler == "ars" else {}
                run = run_one(
                    problem,
                    sampler,
                    seed,
                    args.trials,
                    args.startup,
                    args.storage,
                    args.workers,
                    **kw,
                )
                runs.append(run)
                print(
                    f"# {problem} {sampler} seed {seed}: HV {run['hv'][-1]:.3f}, "
                    f"{statistics.median(run['seconds']):.2f} s/suggestion",
                    file=sys.stderr,
                    flush=True,
                )
    checkpoints = [c for c in (25, 50, 100, 150) if c < args.trials] + [args.trials]
    rows = summarize(runs, checkpoints, n_startup=args.startup)
    print_table(rows, checkpoints)
    ranks = mean_ranks(rows, f"hv@{checkpoints[-1]}")
    print(
        "mean rank by median HV@"
        + str(checkpoints[-1])
        + ": "
        + ", ".join(f"{name} {rank:.2f}" for name, rank in ranks.items())
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "args": vars(args) | {"out": str(args.out)},
                "summary": rows,
                "mean_rank": ranks,
                "runs": runs,
            },
            indent=1,
        )
    )
    written = [args.out]
    if not args.no_plot:
        from studies.figures import plot_hv  # here: studies.figures imports this module

        try:
            plot_hv(runs, args.out.with_suffix(".png"))
            written.append(args.out.with_suffix(".png"))
        except ModuleNotFoundError as err:  # matplotlib is in the optional extra
            package = (err.name or "matplotlib").partition(".")[0]
            print(f"plot skipped: {package} is not installed (pip install 'optuna-ars[studies]')")
    print("wrote " + ", ".join(map(str, written)))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studies.benchmark", description=__doc__)
    add_arguments(parser)
    return run(parser, parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
