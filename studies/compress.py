"""``python -m studies compress``: search deployable int8 networks for one dataset (paper Sec. 4).

    python -m studies compress --dataset basicmotions --trials 50 \\
        --storage sqlite:///optuna_ars.db --study-name bm-ars --sampler ars --seed 0

Four objectives (1 - int8 val accuracy, flash, SRAM, FLOPs) under the target's limits; a
rerun with the same storage and study name resumes. Failed trials (diverging loss,
``--time-limit`` passed, out of memory, export or quantization error) are recorded as FAIL with
``fail_reason`` and the study goes on. Prints the feasible Pareto front at the end.

``--workers N`` runs N worker processes on the study (``studies.workers.run_workers``: RDB
heartbeat or journal alive stamps, stale trials failed and retried); ``--trials`` then counts
COMPLETE trials to add, and each worker gets ``--threads`` torch threads.

``--tflm`` (needs ``pip install 'optuna-ars[tflm]'``) also exports an int8 ``.tflite`` and runs
it in TensorFlow Lite Micro: the values and constraints then come from it (TFLM accuracy,
``.tflite`` size, measured arena) and the ``.tflite`` is the stored artifact.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from collections.abc import Sequence
import contextlib
import functools
import logging
import math
from pathlib import Path
import sys
from typing import Any
import warnings

import optuna

from evaluators.objective import DEFAULT_EPOCH_SCALE
from evaluators.objective import DIRECTIONS
from evaluators.objective import PAPER_WEIGHT_DECAY
from evaluators.objective import Limits
from evaluators.objective import Objective
from evaluators.objective import SearchSpace
from evaluators.objective import make_objective
from evaluators.train import EvaluationError
from studies import report
from studies.benchmark import make_sampler
from studies.benchmark import worker_sampler
from studies.workers import make_storage
from studies.workers import run_workers

SAMPLER_CHOICES = ("ars", "gp", "tpe", "nsga2", "random")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``compress`` subcommand's options."""
    parser.add_argument("--dataset", default="basicmotions", help="dataset name (see docs)")
    parser.add_argument("--root", default=None, help="folder with the dataset's files")
    parser.add_argument("--model", choices=("uea", "resnet", "mobilenet"), default=None)
    parser.add_argument("--trials", type=_positive_int, default=20, help="trials to add")
    parser.add_argument("--storage", default="sqlite:///optuna_ars.db", help="Optuna storage URL")
    parser.add_argument("--study-name", default=None, help="default: compress-<dataset>-<sampler>")
    parser.add_argument("--sampler", choices=SAMPLER_CHOICES, default="ars")
    parser.add_argument("--startup-trials", type=_positive_int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="2 epochs, <= 512 samples (smoke)")
    parser.add_argument("--epoch-scale", type=_positive_float, default=DEFAULT_EPOCH_SCALE)
    parser.add_argument("--flash-limit", type=_positive_int, default=Limits().flash)
    parser.add_argument("--sram-limit", type=_positive_int, default=Limits().sram)
    parser.add_argument("--flops-limit", type=_positive_float, default=Limits().flops)
    parser.add_argument(
        "--reference",
        choices=("limits", "observed"),
        default="limits",
        help="ARSSampler's hypervolume reference point: the target's limits (default; error 1 "
        "and the flash, SRAM and FLOPs limits) or the nadir of the observed fronts",
    )
    parser.add_argument("--threads", type=_positive_int, default=1, help="torch threads/trial")
    parser.add_argument(
        "--workers", type=_positive_int, default=1, help="worker processes sharing the study"
    )
    parser.add_argument(
        "--time-limit",
        type=_positive_float,
        default=None,
        metavar="SECONDS",
        help="fail a trial that runs longer (checked between training steps; default: none)",
    )
    parser.add_argument(
        "--artifact-dir",
        type=Path,
        default=Path("artifacts"),
        help="where the int8 models (.onnx, or .tflite with --tflm) are stored as Optuna "
        "artifacts (default: artifacts)",
    )
    parser.add_argument(
        "--no-artifacts", action="store_true", help="do not store the exported models"
    )
    parser.add_argument(
        "--tflm",
        action="store_true",
        help="deliver an int8 .tflite measured by TFLite Micro (extra: optuna-ars[tflm])",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--folds",
        type=_positive_int,
        default=None,
        help="stratified cross-validation folds of the training split for the accuracy "
        "objective (default 3, 2 with --quick; 1: the single 20%% hold-out)",
    )
    parser.add_argument(
        "--weight-decay-range",
        choices=("log", "paper"),
        default="log",
        help="weight decay interval: [1e-5, 1e-2] log (default) or Table 2's [0.6, 0.99] as "
        "printed (as SGD L2 it left the network at chance in issue 31's run)",
    )


def prepare(args: argparse.Namespace) -> tuple[optuna.Study, Objective]:
    """Load the data and create (or resume) the study; invalid input raises ``ValueError``.

    Everything is checked (data, storage, sampler) before anything is written to the study.
    """
    limits = _limits(args)
    store = None
    if not args.no_artifacts:
        from optuna.artifacts import FileSystemArtifactStore

        store = FileSystemArtifactStore(str(args.artifact_dir))
    objective = make_objective(
        dataset=args.dataset,
        root=args.root,
        model=args.model,
        limits=limits,
        epoch_scale=args.epoch_scale,
        quick=args.quick,
        artifact_store=store,
        threads=args.threads,
        seed=args.seed,
        time_limit=args.time_limit,
        tflm=args.tflm,
        folds=args.folds,
        space=SearchSpace(weight_decay=PAPER_WEIGHT_DECAY)
        if args.weight_decay_range == "paper"
        else None,
    )
    storage = make_storage(args.storage, heartbeat=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = make_sampler(args.sampler, args.seed, args.startup_trials, **_ars_kwargs(args))
    if not args.no_artifacts:
        args.artifact_dir.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        storage=storage,
        study_name=args.study_name or f"compress-{args.dataset.lower()}-{args.sampler}",
        directions=list(DIRECTIONS),
        sampler=sampler,
        load_if_exists=True,
    )
    study.set_user_attr("dataset", objective.data.name)
    study.set_user_attr("model", objective.model)
    deliverable = "tflite" if args.tflm else "onnx"
    previous = study.user_attrs.get("deliverable", "onnx" if study.trials else deliverable)
    if previous != deliverable:
        raise ValueError(
            f"study {study.study_name!r} holds {previous} trials; --tflm={args.tflm} would mix "
            "them with another deliverable's values (use a new --study-name)"
        )
    study.set_user_attr("deliverable", deliverable)
    study.set_user_attr("objectives", objective.value_names)
    if study.metric_names is None:  # a new study, or one made before they were set
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(objective.metric_names)
    # The box of deployable networks, for `studies report`'s hypervolume (whatever the sampler).
    study.set_user_attr("reference_point", [hi for _, hi in limits.objective_bounds()])
    study.set_user_attr("ideal_point", [lo for lo, _ in limits.objective_bounds()])
    # A network no more accurate than always answering the most common training label is not
    # a result: the printed fronts leave such networks out (studies.report.at_chance).
    y = objective.data.y_train
    study.set_user_attr(report.CHANCE_ATTR, float(y.bincount().max()) / len(y))
    return study, objective


def _limits(args: argparse.Namespace) -> Limits:
    return Limits(flash=args.flash_limit, sram=args.sram_limit, flops=args.flops_limit)


def _ars_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """ARSSampler's ``objective_bounds``: the limits, unless ``--reference observed``.

    With the limits as the reference point ARSSampler's reward is the hypervolume gain inside
    the box of deployable networks (the box the evaluator benchmark scores) instead of the box
    below the observed fronts' nadir plus 10 %, which moves as the front grows. BasicMotions,
    seeds 0-3, 150 trials: median HV higher after 50 and 100 trials (0.585 against 0.547,
    0.699 against 0.598), the same within the spread after 150 (0.750 against 0.742), lower
    after 25 (docs/benchmarks.md, "The evaluator's study (BasicMotions)")."""
    if args.sampler != "ars" or args.reference == "observed":
        return {}
    return {"objective_bounds": _limits(args).objective_bounds()}


def run(study: optuna.Study, objective: Objective, *, trials: int, progress: bool) -> None:
    """Run ``trials`` more trials (failures recorded, the study goes on), print the front."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with _sampler_messages():
        study.optimize(
            objective, n_trials=trials, catch=(EvaluationError,), show_progress_bar=progress
        )
    finish(study)


def run_parallel(study: optuna.Study, objective: Objective, *, args: argparse.Namespace) -> None:
    """``args.trials`` more COMPLETE trials from ``args.workers`` processes, then the front."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    codes = run_workers(
        n_workers=args.workers,
        target=objective,
        storage=args.storage,
        study_name=study.study_name,
        n_trials=done + args.trials,
        seed=args.seed,
        sampler=functools.partial(
            worker_sampler, name=args.sampler, n_startup=args.startup_trials, **_ars_kwargs(args)
        ),
        catch=(EvaluationError,),
        torch_threads=args.threads,
    )
    if any(codes):
        print(f"workers exited with codes {codes}", file=sys.stderr)
    storage = make_storage(args.storage, heartbeat=False)
    finish(optuna.load_study(study_name=study.study_name, storage=storage))


def finish(study: optuna.Study) -> None:
    """Print the front; save the hypervolume graph of all trials so far for optuna-dashboard."""
    print(front_table(study))
    print(report.save_dashboard_graph(study))


@contextlib.contextmanager
def _sampler_messages() -> Iterator[None]:
    """Show ARSSampler's INFO lines (e.g. that it is fitting its surrogate from scratch on a
    resumed study) on stderr while the study runs."""
    logger = logging.getLogger("optuna_ars")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def front_table(study: optuna.Study) -> str:
    """The feasible Pareto front as a text table (best accuracy first); accuracies are the
    deliverable's (TFLM's with ``--tflm``, else onnxruntime's int8)."""
    front = [t for t in study.best_trials if all(v <= 0 for v in t.constraints.values())]
    feasible = [t for t in front if not report.at_chance(study, t)]
    done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    failed = sum(t.state == optuna.trial.TrialState.FAIL for t in study.trials)
    lines = [
        f"study {study.study_name!r}: {done} complete, {failed} failed; "
        f"feasible Pareto front ({len(feasible)} trials):",
        f"{'trial':>5} {'val acc':>7} {'test acc':>8} {'flash KB':>9} {'SRAM KB':>8} "
        f"{'MFLOPs':>8}  artifact",
    ]
    for t in sorted(feasible, key=lambda t: (t.values[0], t.values[1])):
        a = t.user_attrs
        lines.append(
            f"{t.number:>5} {1.0 - t.values[0]:>7.3f} "
            f"{a.get('tflm_test_accuracy', a.get('test_accuracy_int8', math.nan)):>8.3f} "
            f"{t.values[1] / 1024:>9.1f} "
            f"{t.values[2] / 1024:>8.1f} {t.values[3] / 1e6:>8.2f}  "
            f"{a.get('artifact_id', a.get('onnx_path', a.get('tflite_path', '-')))}"
        )
    if len(feasible) < len(front):
        lines.append(report.chance_note(study, len(front) - len(feasible)))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m studies.compress``."""
    parser = argparse.ArgumentParser(prog="python -m studies compress", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_checked(parser, args)


def run_checked(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Prepare (invalid input -> argparse error: exit 2, no traceback), then run."""
    try:
        study, objective = prepare(args)
    except (ValueError, OSError, ImportError) as exc:  # bad values, paths, --tflm w/o extra
        parser.error(str(exc))
    if args.workers > 1:
        try:
            run_parallel(study, objective, args=args)
        except ValueError as exc:  # a storage the workers cannot share (in memory)
            parser.error(str(exc))
    else:
        run(study, objective, trials=args.trials, progress=not args.no_progress)
    print(
        f"stored in {args.storage} as {study.study_name!r}. Look at it with:\n"
        f"  optuna-dashboard {args.storage}"
        + ("" if args.no_artifacts else f" --artifact-dir {args.artifact_dir}")
        + f"\n  python -m studies report --storage {args.storage} --study-name {study.study_name}"
    )
    return 0


def _positive_int(text: str) -> int:
    """A positive integer, also in scientific notation (``1e6``, ``256e3``)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 1 and value == int(value)):
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return int(value)


def _positive_float(text: str) -> float:
    """A positive finite number."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


if __name__ == "__main__":
    sys.exit(main())
