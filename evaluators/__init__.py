"""Evaluators: turn one trial's hyperparameters into a deployable int8 network and report the
paper's four objectives (1 - int8 accuracy, flash, SRAM, FLOPs) with the target's limits as
Optuna constraints. One module per stage, plain dataclasses between them:
``data -> models -> train (+ prune) -> export -> quantize -> measure -> objective``.
"""

from __future__ import annotations

from evaluators.objective import DIRECTIONS
from evaluators.objective import OBJECTIVE_NAMES
from evaluators.objective import Limits
from evaluators.objective import Objective
from evaluators.objective import SearchSpace
from evaluators.objective import evaluate
from evaluators.objective import make_objective
from evaluators.train import EvaluationError

__all__ = [
    "DIRECTIONS",
    "OBJECTIVE_NAMES",
    "EvaluationError",
    "Limits",
    "Objective",
    "SearchSpace",
    "evaluate",
    "make_objective",
]
