"""The DNN-compression evaluator as a benchmark problem (issue 5: the evaluator on BasicMotions).

``studies.benchmark`` runs BoTorch's test functions through their ``num_objectives``,
``ref_point`` and ``max_hv``; :class:`EvaluatorProblem` offers the same three for the
evaluator's study (four losses: 1 - int8 accuracy, flash, SRAM, FLOPs, with the target's
limits as constraints), so the samplers are compared on it in the same tables.

The reference point is ``(1, flash limit, SRAM limit, FLOPs limit)``: a network at the
reference is useless (accuracy 0) or at a limit, so every feasible network lies inside the
box from the ideal ``(0, 0, 0, 0)`` to it, and ``max_hv`` is that box's volume: the
normalised hypervolume is the share of the box that the feasible networks found dominate.
The data split and the training seeds are the same for every sampler and seed (seed 0): the
problem stays fixed, only the samplers' seeds vary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import optuna
    import torch

EVALUATOR_PROBLEMS = {"BasicMotions": False, "BasicMotions-quick": True}
"""Problem name -> ``quick`` (2 epochs, <= 512 training samples: the smoke version)."""


@dataclass(frozen=True)
class EvaluatorProblem:
    """The compression study on BasicMotions at the default epoch scale, or ``quick``."""

    quick: bool
    num_objectives: int = 4

    @property
    def ref_point(self) -> torch.Tensor:  # (4,) in loss form
        import torch

        from evaluators.objective import Limits

        return torch.tensor([hi for _, hi in Limits().objective_bounds()], dtype=torch.float64)

    @property
    def max_hv(self) -> float:
        """The volume of the box from the ideal point (all zeros) to the reference point."""
        return math.prod(float(v) for v in self.ref_point)

    @property
    def catch(self) -> tuple[type[Exception], ...]:
        """Exceptions of a failed trial (recorded as FAIL; the study goes on)."""
        from evaluators.train import EvaluationError

        return (EvaluationError,)

    def objective(self) -> Callable[[optuna.Trial], tuple[float, ...]]:
        """The evaluator's objective (one torch thread per trial)."""
        from evaluators.objective import make_objective

        return make_objective(dataset="basicmotions", quick=self.quick, seed=0)
