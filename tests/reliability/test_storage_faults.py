"""Issue 6, cases 6-7: many worker processes on one study; PostgreSQL restarted mid-trial.

Case 6 setup: P worker processes x T trials each on a journal file and on PostgreSQL (fast:
4 x 5; slow: 16 x 20 = 320). Expected: exactly P*T COMPLETE trials, unique numbers, every
parameter inside its distribution, no two concurrent trials with the same parameters.
Case 7 setup: one worker; fault: the PostgreSQL server restarts while trial 0 runs. Expected:
trial 0's result is stored (``pool_pre_ping`` replaces the dead pooled connections) and the
study completes.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

from studies.workers import ars_sampler
from studies.workers import run_worker
from tests.integration.support import check_study
from tests.reliability.faults import PG_RESTART_ENV
from tests.reliability.faults import STARTUP_ONLY
from tests.reliability.faults import load
from tests.reliability.faults import pg_restart_command
from tests.reliability.faults import running_workers
from tests.reliability.faults import storage_spec
from tests.reliability.faults import worker_config

STARTUP_ALL = {"n_startup_trials": 1000}  # storage load, not the model: Latin hypercube only


@pytest.mark.parametrize(
    ("kind", "processes", "trials"),
    [
        ("journal", 4, 5),
        pytest.param("postgres", 4, 5, marks=pytest.mark.postgres),
        pytest.param("journal", 16, 20, marks=pytest.mark.slow),
        pytest.param("postgres", 16, 20, marks=[pytest.mark.postgres, pytest.mark.slow]),
    ],
)
def test_many_processes_share_one_study(
    tmp_path: Path, kind: str, processes: int, trials: int
) -> None:
    config = worker_config(
        storage_spec(kind, tmp_path),
        n_trials=processes * trials,
        target="tests.integration.support:objective",
        sampler=functools.partial(ars_sampler, **STARTUP_ONLY | STARTUP_ALL),
        timeout=500,
        heartbeat_interval=2,
        grace_period=30,  # 16 processes on 2 cores: no false stale trials
    )
    with running_workers(config, processes) as workers:
        for w in workers:
            w.join(timeout=550)
        assert [w.exitcode for w in workers] == [0] * processes
    study = load(config)
    check_study(study, processes * trials)
    assert len(study.trials) - processes * trials <= processes  # surplus trials, if any


@pytest.mark.postgres
def test_postgres_restart_mid_trial_keeps_the_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = storage_spec("postgres", tmp_path)
    command = pg_restart_command(url)
    if command is None:
        pytest.skip(
            "cannot restart this PostgreSQL server (not a local pg_ctlcluster, or not root)"
        )
    monkeypatch.setenv(PG_RESTART_ENV, " ".join(command))
    config = worker_config(
        url, n_trials=3, target="tests.reliability.faults:restart_postgres", grace_period=30
    )
    run_worker(config)  # in this process; raises if a write after the restart fails
    study = load(config)
    check_study(study, 3)
    assert study.trials[0].state.name == "COMPLETE" and study.trials[0].values is not None
    assert os.environ[PG_RESTART_ENV].startswith("pg_ctlcluster")
