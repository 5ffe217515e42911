"""4 workers on PostgreSQL, one killed mid-trial: heartbeat, stale trial failed and retried.

Runs where ``OPTUNA_ARS_TEST_PG_URL`` is set (``.ci/run`` sets it; locally:
``export OPTUNA_ARS_TEST_PG_URL="$(bash tests/integration/postgres_setup.sh)"``).
"""

from __future__ import annotations

from dataclasses import replace
import functools
import os
from pathlib import Path
import signal
import time
import uuid

import optuna
from optuna.trial import TrialState
import pytest

from studies.workers import WorkerConfig
from studies.workers import ars_sampler
from studies.workers import make_storage
from studies.workers import prepare_study
from studies.workers import start_workers
from tests.integration.support import KILL_DIR_ENV
from tests.integration.support import SMALL
from tests.integration.support import alive_trial
from tests.integration.support import check_study

URL_ENV = "OPTUNA_ARS_TEST_PG_URL"
pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url() -> str:
    url = os.environ.get(URL_ENV)
    if not url:
        reason = os.environ.get("OPTUNA_ARS_TEST_PG_SKIP", f"{URL_ENV} is not set")
        pytest.skip(f"no PostgreSQL: {reason}")
    pytest.importorskip("psycopg2", reason="the PostgreSQL driver psycopg2 is not installed")
    return url


def test_killed_worker_trial_is_failed_and_retried(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"kill-{uuid.uuid4().hex[:8]}"
    config = WorkerConfig(
        target="tests.integration.support:killable",
        storage=pg_url,
        study_name=name,
        n_trials=12,
        sampler=functools.partial(ars_sampler, **SMALL | {"n_startup_trials": 8}),
        heartbeat_interval=1,
        grace_period=3,
        poll_interval=0.5,
        timeout=240,
        torch_threads=1,
    )
    prepare_study(config, directions=["minimize", "minimize"])
    monkeypatch.setenv(KILL_DIR_ENV, str(tmp_path))
    workers = start_workers([replace(config, worker=i) for i in range(4)])
    try:
        study = optuna.load_study(study_name=name, storage=make_storage(pg_url, heartbeat=False))
        deadline = time.monotonic() + 180
        while (killed := alive_trial(study, tmp_path / "trial")) is None:
            assert time.monotonic() < deadline and workers[1].is_alive(), "worker 1 never ran"
            time.sleep(0.1)
        assert workers[1].pid is not None
        os.kill(workers[1].pid, signal.SIGKILL)
        for w in workers:
            w.join(timeout=max(1.0, deadline + 120 - time.monotonic()))
        assert [w.exitcode for w in workers] == [0, -signal.SIGKILL, 0, 0]
    finally:
        for w in workers:
            if w.is_alive():
                w.kill()
                w.join()

    storage = make_storage(pg_url, heartbeat=False)
    study = optuna.load_study(study_name=name, storage=storage)
    try:
        complete = check_study(study, 12)  # the count reached, nothing left RUNNING
        trials = study.get_trials(deepcopy=False)
        stale = trials[killed]
        assert stale.state == TrialState.FAIL and stale.user_attrs["worker"] == 1
        retries = [t for t in trials if t.system_attrs.get("failed_trial") == killed]
        assert len(retries) == 1
        assert retries[0] in complete and retries[0].params == stale.params
        lost = [t.number for t in trials if t.state == TrialState.FAIL and t is not stale]
        assert not lost
    finally:
        optuna.delete_study(study_name=name, storage=storage)
