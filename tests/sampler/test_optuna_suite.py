"""Optuna's own sampler test-suite with ARSSampler as the fixture (small N for speed)."""

from __future__ import annotations

from collections.abc import Callable

from optuna.samplers import BaseSampler
from optuna.testing.pytest_samplers import BasicSamplerTestCase
from optuna.testing.pytest_samplers import MultiObjectiveSamplerTestCase
from optuna.testing.pytest_samplers import RelativeSamplerTestCase
import pytest

from optuna_ars import ARSSampler


def small_sampler(**kw: object) -> ARSSampler:
    base: dict[str, object] = dict(
        n_startup_trials=0,
        n_policies=2,
        n_directions=8,
        n_iterations=2,
        n_qmc_samples=4,
        hidden=8,
    )
    base.update(kw)
    return ARSSampler(**base)  # type: ignore[arg-type]


class TestARSSampler(BasicSamplerTestCase, RelativeSamplerTestCase, MultiObjectiveSamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], BaseSampler]:
        return small_sampler
