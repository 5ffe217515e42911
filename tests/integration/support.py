"""Objectives and checks shared by the worker tests; importable by spawned workers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
import itertools
import math
import os
from pathlib import Path
import time

import optuna
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from studies.workers import WORKER_ENV

# ARSSampler at its cheapest; most trials are start-up trials, the rest use the model.
SMALL = dict(n_startup_trials=4, n_directions=16, n_iterations=2, n_qmc_samples=8, hidden=8)
BOUNDS = {"x": (0.0, 1.0), "y": (0.0, 2.0)}
KILL_DIR_ENV = "OPTUNA_ARS_TEST_KILL_DIR"
GATHER_ENV = "OPTUNA_ARS_TEST_GATHER"  # "DIR:N"


def objective(trial: optuna.Trial) -> tuple[float, float]:
    """Two cheap objectives (ZDT1-like), one constraint, one user attr; sleeps 50 ms."""
    x = trial.suggest_float("x", *BOUNDS["x"])
    y = trial.suggest_float("y", *BOUNDS["y"])
    trial.set_constraint("c0", x + y - 2.5)
    trial.set_user_attr("flash_bytes", int(1000 * (1 + y)))
    time.sleep(0.05)
    g = 1 + y
    return x, g * (1 - math.sqrt(x / g))


def gathered(trial: optuna.Trial) -> tuple[float, float]:
    """:func:`objective`; trials wait until all N workers have one, so every worker takes part.

    ``$OPTUNA_ARS_TEST_GATHER`` is ``DIR:N``; each worker leaves a file in DIR.
    """
    folder, _, n = os.environ[GATHER_ENV].rpartition(":")
    Path(folder, os.environ[WORKER_ENV]).touch()
    deadline = time.monotonic() + 120
    while len(list(Path(folder).iterdir())) < int(n) and time.monotonic() < deadline:
        time.sleep(0.05)
    return objective(trial)


def killable(trial: optuna.Trial) -> tuple[float, float]:
    """:func:`objective`; worker 1 announces its trial in ``$KILL_DIR`` and hangs there.

    The other workers hold their trials until it has, so that it gets one however slowly it
    starts.
    """
    values = objective(trial)
    kill_dir = os.environ.get(KILL_DIR_ENV)
    if kill_dir:
        marker = Path(kill_dir, "trial")
        if os.environ.get(WORKER_ENV) == "1":
            marker.write_text(str(trial.number))
            time.sleep(600)  # until the test kills this process
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    return values


def check_study(study: optuna.Study, n_complete: int) -> list[FrozenTrial]:
    """The assertions every worker test makes; returns the COMPLETE trials."""
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == n_complete
    assert sorted(t.number for t in trials) == list(range(len(trials)))  # unique numbers
    assert not [t.number for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    for t in trials:
        if t.state == TrialState.PRUNED:  # only surplus trials are pruned, with no params
            assert t.user_attrs.get("workers:surplus") is True and not t.params
    for t in complete:
        assert set(t.params) == set(BOUNDS)
        for name, value in t.params.items():
            lo, hi = BOUNDS[name]
            assert lo <= value <= hi
    assert_no_concurrent_duplicates(trials)
    return complete


def assert_no_concurrent_duplicates(trials: Sequence[FrozenTrial]) -> None:
    """No two trials that ran at the same time had the same parameters."""
    finished = [t for t in trials if t.params and t.datetime_start and t.datetime_complete]
    for a, b in itertools.combinations(finished, 2):
        if _overlap(a, b):
            assert a.params != b.params, (a.number, b.number, a.params)


def _overlap(a: FrozenTrial, b: FrozenTrial) -> bool:
    start: datetime = max(a.datetime_start, b.datetime_start)  # type: ignore[type-var]
    end: datetime = min(a.datetime_complete, b.datetime_complete)  # type: ignore[type-var]
    return start < end
