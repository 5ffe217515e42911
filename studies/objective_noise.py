"""Noise and cost of the accuracy objective: one configuration, several training seeds.

For each validation scheme (the 20 % hold-out as before, the hold-out with a minimum number
of optimizer steps, stratified k-fold cross-validation) the same Table 2 configuration is
evaluated with ``--seeds`` training seeds (model init and batch order; folds fixed). Printed
per scheme: the objective's accuracy (mean, std over seeds: the noise the sampler sees), the
deliverable's int8 test accuracy (what a user gets), optimizer steps and seconds per trial.
A last row runs 3-fold CV with Table 2's weight decay as printed (0.6).

    python -m studies.objective_noise --seeds 4 --out docs/data/objective_noise.json
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
import os
from pathlib import Path
import platform
import statistics
import sys
import tempfile
import time
from typing import Any

import torch

from evaluators.data import load_dataset
from evaluators.objective import PAPER_WEIGHT_DECAY
from evaluators.objective import evaluate
from evaluators.objective import make_objective
from evaluators.train import EvaluationError
from evaluators.train import TrainConfig
from studies.bench_evaluator import emit


@dataclass(frozen=True, kw_only=True)
class Scheme:
    """One way of measuring the accuracy objective."""

    name: str
    folds: int
    min_steps: int
    weight_decay: float = 1e-4


SCHEMES: tuple[Scheme, ...] = (
    Scheme(name="before: hold-out, Table 2 epochs x 0.1", folds=1, min_steps=0),
    Scheme(name="hold-out, >= 100 steps", folds=1, min_steps=100),
    Scheme(name="2-fold CV, >= 100 steps", folds=2, min_steps=100),
    Scheme(name="3-fold CV, >= 100 steps", folds=3, min_steps=100),
    Scheme(name="5-fold CV, >= 100 steps", folds=5, min_steps=100),
    Scheme(
        name="3-fold CV, >= 100 steps, weight decay 0.6 (Table 2)",
        folds=3,
        min_steps=100,
        weight_decay=PAPER_WEIGHT_DECAY[0],
    ),
)

# A mid-range Table 2 configuration (300 epochs -> 30 at the default scale), half of every
# group's channels pruned.
CONFIG: dict[str, Any] = {
    "epochs": 300,
    "batch_size": 20,
    "lr": 5e-3,
    "momentum": 0.9,
    "lr_schedule": 0.65,
    "lr_gamma": 0.65,
    "pruning_start": 0.3,
    "pruning_end": 0.9,
    "pruning_steps": 10,
    "sparsity": 0.5,
}


def run(*, dataset: str, seeds: int, schemes: Sequence[Scheme]) -> dict[str, Any]:
    """Evaluate every scheme with ``seeds`` training seeds; records and a summary per scheme."""
    data = load_dataset(dataset, seed=0)
    torch.set_num_threads(1)
    rows = []
    for scheme in schemes:
        objective = make_objective(dataset=data, folds=scheme.folds, min_steps=scheme.min_steps)
        epochs = objective.scaled_epochs(CONFIG["epochs"], batch_size=CONFIG["batch_size"])
        records = []
        for seed in range(seeds):
            config = TrainConfig(
                **{k: v for k, v in CONFIG.items() if k not in ("epochs", "sparsity")},
                epochs=epochs,
                weight_decay=scheme.weight_decay,
                sparsity={g.name: CONFIG["sparsity"] for g in objective.groups},
                seed=seed,
            )
            tick = time.perf_counter()
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    result = evaluate(
                        data, objective.model, config, workdir=Path(tmp), folds=scheme.folds
                    )
                except EvaluationError as exc:
                    records.append({"seed": seed, "failed": str(exc)})
                    continue
            records.append(
                {
                    "seed": seed,
                    "objective_accuracy": 1.0 - result.values[0],
                    "test_accuracy_int8": result.quantized.test_accuracy,
                    "sgd_steps": result.train.sgd_steps,
                    "seconds": time.perf_counter() - tick,
                }
            )
            print(f"  {scheme.name}, seed {seed}: {records[-1]}", file=sys.stderr, flush=True)
        done = [r for r in records if "failed" not in r]
        rows.append(
            {
                "scheme": scheme.name,
                "folds": scheme.folds,
                "min_steps": scheme.min_steps,
                "weight_decay": scheme.weight_decay,
                "epochs": epochs,
                "records": records,
                **{f"{key}_{stat}": _stat(done, key, stat) for key in _KEYS for stat in _STATS},
            }
        )
    return {
        "dataset": dataset,
        "seeds": seeds,
        "config": CONFIG,
        "rows": rows,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "load_average": os.getloadavg(),
        },
    }


_KEYS = ("objective_accuracy", "test_accuracy_int8", "sgd_steps", "seconds")
_STATS = ("mean", "std")


def _stat(records: list[dict[str, Any]], key: str, stat: str) -> float:
    values = [float(r[key]) for r in records]
    if not values:
        return float("nan")
    if stat == "mean":
        return statistics.fmean(values)
    return statistics.stdev(values) if len(values) > 1 else 0.0


def table(result: dict[str, Any]) -> str:
    """The summary as a Markdown table."""
    lines = [
        f"{result['dataset']}, one configuration, {result['seeds']} training seeds "
        "(mean ± std over seeds)",
        "",
        "| scheme | SGD steps | objective accuracy | test accuracy (int8) | s / trial |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['scheme']} | {r['sgd_steps_mean']:.0f} "
            f"| {r['objective_accuracy_mean']:.3f} ± {r['objective_accuracy_std']:.3f} "
            f"| {r['test_accuracy_int8_mean']:.3f} ± {r['test_accuracy_int8_std']:.3f} "
            f"| {r['seconds_mean']:.1f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studies.objective_noise", description=__doc__)
    parser.add_argument("--dataset", default="basicmotions")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument(
        "--schemes", default=None, help="comma-separated row numbers (0-based) to run"
    )
    parser.add_argument("--out", type=Path, default=None, help="write the JSON result here")
    args = parser.parse_args(argv)
    if args.seeds < 2:
        parser.error(f"--seeds must be >= 2 (a std needs two), got {args.seeds}")
    schemes = SCHEMES
    if args.schemes is not None:
        try:
            schemes = tuple(SCHEMES[int(i)] for i in args.schemes.split(","))
        except (ValueError, IndexError):
            parser.error(f"--schemes: row numbers 0-{len(SCHEMES) - 1}, got {args.schemes!r}")
    try:
        result = run(dataset=args.dataset, seeds=args.seeds, schemes=schemes)
    except (ValueError, FileNotFoundError) as exc:
        parser.error(str(exc))
    emit(table(result), result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
