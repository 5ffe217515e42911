"""optuna-ars: multi-objective Bayesian optimization with Augmented Random Search for Optuna."""

from __future__ import annotations

from optuna_ars._constraints import named as named_constraints
from optuna_ars.sampler import ARSSampler

__all__ = ["ARSSampler", "named_constraints"]
__version__ = "0.1.0"
