from __future__ import annotations

from dataclasses import replace
import functools
from pathlib import Path
import time
from typing import Any

import optuna
from optuna.trial import TrialState
import pytest

from studies import workers
from studies.workers import WorkerConfig
from studies.workers import ars_sampler
from studies.workers import make_storage
from studies.workers import prepare_study
from studies.workers import run_worker
from studies.workers import run_workers
from studies.workers import start_workers
from studies.workers import wait_workers
from tests.integration.support import GATHER_ENV
from tests.integration.support import SMALL
from tests.integration.support import check_study

# Mostly start-up trials: every worker still imports torch and fits GPs for the rest.
FAST = {**SMALL, "n_startup_trials": 8}


@pytest.mark.parametrize(
    ("kind", "n_workers"), [("sqlite", 3), ("journal", 2)], ids=["sqlite", "journal"]
)
def test_workers_share_one_study(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, n_workers: int
) -> None:
    (tmp_path / "gather").mkdir()
    monkeypatch.setenv(GATHER_ENV, f"{tmp_path / 'gather'}:{n_workers}")
    storage = f"sqlite:///{tmp_path}/s.db" if kind == "sqlite" else f"journal:{tmp_path}/s.log"
    codes = run_workers(
        n_workers=n_workers,
        target="tests.integration.support:gathered",
        storage=storage,
        study_name="w",
        n_trials=12,
        directions=["minimize", "minimize"],
        sampler=functools.partial(ars_sampler, **FAST),
        poll_interval=0.2,
        timeout=240,  # a hang guard, below pytest's 300 s: no new trial after it
    )
    assert codes == [0] * n_workers
    study = optuna.load_study(study_name="w", storage=make_storage(storage, heartbeat=False))
    complete = check_study(study, 12)
    assert {t.user_attrs["worker"] for t in complete} == set(range(n_workers))
    assert any("ars:policy" in t.user_attrs for t in complete)  # the model was used


@pytest.mark.parametrize(
    "spec",
    ["", "foo", "mysql://u@h/db", "journal:", "redis://localhost", "sqlite//x.db"],
)
def test_make_storage_rejects_bad_specs(spec: str) -> None:
    with pytest.raises(ValueError, match="storage") as err:
        make_storage(spec, heartbeat=True)
    assert repr(spec.strip()) in str(err.value)


def test_make_storage_kinds(tmp_path: Path) -> None:
    rdb = make_storage(f"sqlite:///{tmp_path}/a.db", heartbeat=True, heartbeat_interval=2)
    assert isinstance(rdb, optuna.storages.RDBStorage)
    assert rdb.get_heartbeat_interval() == 2
    assert (
        make_storage(f"sqlite:///{tmp_path}/b.db", heartbeat=False).get_heartbeat_interval()
        is None
    )
    for spec in (f"journal:{tmp_path}/c", f"{tmp_path}/d.log"):
        assert isinstance(make_storage(spec, heartbeat=True), optuna.storages.JournalStorage)


def test_run_workers_checks_before_starting(tmp_path: Path) -> None:
    run = functools.partial(run_workers, n_workers=1, target=len, n_trials=1)
    db = f"sqlite:///{tmp_path}/s.db"
    with pytest.raises(ValueError, match="in memory"):
        run(storage="sqlite:///:memory:", study_name="a", directions=["minimize"])
    with pytest.raises(ValueError, match="cannot import"):
        run(storage=db, study_name="a", directions=["minimize"], target="no_such_module:f")
    with pytest.raises(ValueError, match="directions"):
        run(storage=db, study_name="a", directions=["down"])
    with pytest.raises(KeyError):
        run(storage=db, study_name="missing")
    optuna.create_study(storage=db, study_name="max", direction="maximize")
    with pytest.raises(ValueError, match="exists with directions"):
        run(storage=db, study_name="max", directions=["minimize"])


def test_a_trial_beyond_the_count_is_pruned_unrun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Trial 0 turns stale 2 s after it starts; reaping it only once trial 1 has ended keeps
    # the order below however long this worker takes to start.
    fail_stale = workers._fail_stale

    def after_trial_1(study: optuna.Study, config: WorkerConfig) -> None:
        if len(study.trials) > 1 and study.trials[1].state.is_finished():
            fail_stale(study, config)

    monkeypatch.setattr(workers, "_fail_stale", after_trial_1)
    storage = f"journal:{tmp_path}/s.log"
    config = _prepared(storage, "s", 1, SMALL, heartbeat_interval=1, grace_period=2)
    study = optuna.load_study(study_name="s", storage=make_storage(storage, heartbeat=False))
    study.ask()  # trial 0, running elsewhere (never stamped alive): it holds the only slot
    study.enqueue_trial({"x": 0.5, "y": 0.5})  # trial 1: waiting, so a worker takes it
    run_worker(config)  # runs trial 1, finds trial 0 before it; reaps trial 0, runs its retry
    surplus = study.trials[1]
    assert surplus.state == TrialState.PRUNED and not surplus.params
    assert surplus.user_attrs == {"worker": 0, "workers:surplus": True}
    assert [t.state for t in study.trials] == [
        TrialState.FAIL,
        TrialState.PRUNED,
        TrialState.COMPLETE,
    ]
    assert study.trials[2].system_attrs["failed_trial"] == 0


def test_workers_start_together_and_a_dead_one_does_not_hold_the_rest(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path}/s.db"
    live = _prepared(storage, "w", 4, FAST, torch_threads=1)
    dead = replace(live, worker=1, study_name="missing")  # dies in load_study, before the start
    started = time.time()
    codes = wait_workers(start_workers([live, dead], start_timeout=6))
    assert codes[0] == 0 and codes[1] != 0
    study = optuna.load_study(study_name="w", storage=make_storage(storage, heartbeat=False))
    first = min(t.datetime_start for t in study.trials if t.datetime_start is not None)
    # the live worker waited the start timeout for the dead one, then ran the study alone
    assert first.timestamp() - started >= 6
    assert len(check_study(study, 4)) == 4


def _prepared(
    storage: str, name: str, n_trials: int, ars: dict[str, int], **extra: Any
) -> WorkerConfig:
    """A worker config on ``support.objective`` whose two-objective study exists."""
    config = WorkerConfig(
        target="tests.integration.support:objective",
        storage=storage,
        study_name=name,
        n_trials=n_trials,
        sampler=functools.partial(ars_sampler, **ars),
        poll_interval=0.2,
        **extra,
    )
    prepare_study(config, directions=["minimize", "minimize"])
    return config
