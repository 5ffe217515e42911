"""Objectives and checks shared by the worker tests; importable by spawned workers."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
import itertools
import math
import os
from pathlib import Path
import time
from types import ModuleType
from typing import Any

import optuna
from optuna.trial import FrozenTrial
from optuna.trial import TrialState
import pytest

from studies.workers import ALIVE_ATTR
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


def gather() -> None:
    """Wait until all N workers have begun a trial, so every worker takes part however the OS
    schedules them; ``RuntimeError`` (the trial fails) when they have not within 120 s.
    ``$OPTUNA_ARS_TEST_GATHER`` is ``DIR:N``; each worker leaves a file in DIR."""
    folder, _, n = os.environ[GATHER_ENV].rpartition(":")
    Path(folder, os.environ[WORKER_ENV]).touch()
    deadline = time.monotonic() + 120
    while len(list(Path(folder).iterdir())) < int(n):
        if time.monotonic() > deadline:
            raise RuntimeError(f"not all {n} workers began a trial within 120 s")
        time.sleep(0.05)


def gathered(trial: optuna.Trial) -> tuple[float, float]:
    """:func:`objective`, each trial after :func:`gather`."""
    gather()
    return objective(trial)


@dataclass(frozen=True)
class Gathered:
    """Any picklable objective, each trial after :func:`gather`."""

    objective: Callable[[optuna.Trial], Any]

    def __call__(self, trial: optuna.Trial) -> Any:
        gather()
        return self.objective(trial)


def gather_workers(monkeypatch: pytest.MonkeyPatch, module: ModuleType, folder: Path) -> None:
    """Make ``module.run_workers`` run its target as :class:`Gathered` by all its workers
    (files in ``folder``, which is created)."""
    run_workers = module.run_workers

    def gathering(*, target: Any, n_workers: int, **kwargs: Any) -> list[int]:
        folder.mkdir()
        monkeypatch.setenv(GATHER_ENV, f"{folder}:{n_workers}")
        codes: list[int] = run_workers(target=Gathered(target), n_workers=n_workers, **kwargs)
        return codes

    monkeypatch.setattr(module, "run_workers", gathering)


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


def alive_trial(study: optuna.Study, marker: Path) -> int | None:
    """The trial number a worker wrote to ``marker``, once that trial's heartbeat (RDB) or
    alive stamp (journal) is stored: a killed worker's trial without one is never stale.
    ``None`` before that."""
    text = marker.read_text() if marker.exists() else ""
    if not text:
        return None
    storage = study._storage
    trial = storage.get_all_trials(study._study_id, deepcopy=False)[int(text)]
    if not isinstance(storage, optuna.storages.RDBStorage):
        return trial.number if ALIVE_ATTR in trial.system_attrs else None
    from optuna.storages._rdb.models import TrialHeartbeatModel

    try:
        beat = TrialHeartbeatModel.where_trial_id(trial._trial_id, storage.scoped_session())
    finally:
        storage.scoped_session.remove()
    return trial.number if beat is not None else None


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
