"""Seconds per evaluator stage on BasicMotions (a benchmark, not a test).

Runs ``--trials`` trials of the real objective (random Table 2 hyperparameters, default epoch
scale) in one process and prints mean / max seconds per stage and each stage's share of the
trial. Target on a 2-core CPU: one trial <= 30 s, non-training stages (model build, export,
quantization + int8 accuracy, measurement) <= 20 % of it.

    python -m studies.bench_evaluator --trials 10 --out results/bench_evaluator.json
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import json
import os
from pathlib import Path
import platform
import statistics
import sys
import time
from typing import Any

import optuna
import torch

from evaluators.objective import DEFAULT_EPOCH_SCALE
from evaluators.objective import DIRECTIONS
from evaluators.objective import make_objective
from evaluators.train import EvaluationError

STAGES = ("cv", "model", "train", "prune", "export", "quantize", "measure")
TRAINING = ("cv", "train", "prune")  # cv: the folds, mostly training


def bench(
    *,
    dataset: str,
    trials: int,
    seed: int,
    epoch_scale: float,
    threads: int,
    folds: int | None = None,
    min_steps: int | None = None,
) -> dict[str, Any]:
    """Run the trials; per-trial stage seconds and a summary (``folds``, ``min_steps``: the
    objective's, ``None`` for its defaults; ``cv`` is all cross-validation folds)."""
    start = time.perf_counter()
    objective = make_objective(
        dataset=dataset,
        epoch_scale=epoch_scale,
        threads=threads,
        seed=seed,
        folds=folds,
        min_steps=min_steps,
    )
    load_seconds = time.perf_counter() - start
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        directions=list(DIRECTIONS), sampler=optuna.samplers.RandomSampler(seed=seed)
    )
    records = []
    for _ in range(trials):
        tick = time.perf_counter()
        study.optimize(objective, n_trials=1, catch=(EvaluationError,))
        wall = time.perf_counter() - tick
        trial = study.trials[-1]
        a = trial.user_attrs
        records.append(
            {
                "number": trial.number,
                "state": trial.state.name,
                "wall": wall,
                "epochs": a.get("epochs_trained"),
                "val_accuracy_int8": a.get("val_accuracy_int8"),
                "flash_bytes": a.get("flash_bytes"),
                **{s: a.get(f"seconds_{s}", 0.0) for s in STAGES},
            }
        )
    done = [r for r in records if r["state"] == "COMPLETE"]
    total = sum(r["wall"] for r in done) or 1.0
    summary = {
        s: {
            "mean": statistics.fmean(r[s] for r in done) if done else 0.0,
            "max": max((r[s] for r in done), default=0.0),
            "share": sum(r[s] for r in done) / total,
        }
        for s in (*STAGES, "wall")
    }
    non_training = sum(summary[s]["share"] for s in STAGES if s not in TRAINING)
    return {
        "dataset": dataset,
        "trials": trials,
        "complete": len(done),
        "epoch_scale": epoch_scale,
        "threads": threads,
        "load_seconds": load_seconds,
        "non_training_share": non_training,
        "summary": summary,
        "records": records,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "load_average": os.getloadavg(),
        },
    }


def table(result: dict[str, Any]) -> str:
    """The summary as a Markdown table."""
    lines = [
        f"{result['dataset']}: {result['complete']}/{result['trials']} trials complete, "
        f"epoch scale {result['epoch_scale']}, {result['threads']} thread(s), data loaded in "
        f"{result['load_seconds']:.2f} s",
        "",
        "| stage | mean s | max s | share of trial |",
        "| --- | ---: | ---: | ---: |",
    ]
    for stage, row in result["summary"].items():
        name = "trial (wall)" if stage == "wall" else stage
        lines.append(f"| {name} | {row['mean']:.2f} | {row['max']:.2f} | {row['share']:.1%} |")
    lines.append("")
    lines.append(
        f"non-training stages (model, export, quantize, measure): "
        f"{result['non_training_share']:.1%} of trial time"
    )
    return "\n".join(lines)


def emit(text: str, result: dict[str, Any], out: Path | None) -> None:
    """Print ``text``; write ``result`` as JSON to ``out`` (folders created) unless ``None``."""
    print(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studies.bench_evaluator", description=__doc__)
    parser.add_argument("--dataset", default="basicmotions")
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epoch-scale", type=float, default=DEFAULT_EPOCH_SCALE)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--folds", type=int, default=None, help="default: the objective's")
    parser.add_argument("--min-steps", type=int, default=None, help="default: the objective's")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON result here")
    args = parser.parse_args(argv)
    if args.trials < 1:
        parser.error(f"--trials must be >= 1, got {args.trials}")
    try:
        result = bench(
            dataset=args.dataset,
            trials=args.trials,
            seed=args.seed,
            epoch_scale=args.epoch_scale,
            threads=args.threads,
            folds=args.folds,
            min_steps=args.min_steps,
        )
    except (ValueError, FileNotFoundError) as exc:
        parser.error(str(exc))
    emit(table(result), result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
