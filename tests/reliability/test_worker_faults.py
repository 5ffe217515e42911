"""Issue 6, cases 1-3: workers killed or paused mid-trial on SQLite, journal and PostgreSQL.

Setup: 3 worker processes, 8 trials, heartbeat (RDB) or alive stamp (journal) every 1 s,
grace period 3 s. Fault: SIGKILL, or SIGSTOP past the grace period then SIGCONT, of worker 1
while it is inside a trial. Expected: another worker fails the trial as stale, retries it once
with the same parameters, and the study ends with exactly 8 COMPLETE trials; a resumed worker
drops its result (no crash, no duplicate COMPLETE).
"""

from __future__ import annotations

import os
from pathlib import Path
import signal
import time

import optuna
from optuna.trial import TrialState
import pytest

from studies.workers import ALIVE_ATTR
from studies.workers import WorkerConfig
from studies.workers import make_storage
from studies.workers import reap_stale_trials
from tests.integration.support import alive_trial
from tests.integration.support import check_study
from tests.reliability.faults import PAUSE_DIR_ENV
from tests.reliability.faults import load
from tests.reliability.faults import running_workers
from tests.reliability.faults import storage_spec
from tests.reliability.faults import wait_for
from tests.reliability.faults import worker_config

N_TRIALS = 8
GRACE = 3.0

# Fast: the journal (our own reaper) and PostgreSQL; SQLite (slow) works the same.
KINDS = [
    pytest.param("sqlite", marks=pytest.mark.slow),
    "journal",
    pytest.param("postgres", marks=pytest.mark.postgres),
]


def _state(study: optuna.Study, number: int) -> TrialState:
    return study._storage.get_all_trials(study._study_id, deepcopy=False)[number].state


def _failed_as_stale(study: optuna.Study, number: int) -> None:
    """Trial ``number`` turns FAIL (how soon after the grace period is the scheduler's)."""
    wait_for(lambda: _state(study, number) == TrialState.FAIL, timeout=GRACE + 60)


def _retry_of(study: optuna.Study, number: int) -> optuna.trial.FrozenTrial | None:
    trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
    return next((t for t in trials if t.system_attrs.get("failed_trial") == number), None)


def _paused_study(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WorkerConfig:
    """Workers' config for a fresh study; worker 1 will wait inside its first trial."""
    monkeypatch.setenv(PAUSE_DIR_ENV, str(tmp_path))
    return worker_config(
        storage_spec(kind, tmp_path), n_trials=N_TRIALS, target="tests.reliability.faults:pausable"
    )


def _paused_trial(tmp_path: Path, study: optuna.Study) -> int:
    """The number of worker 1's trial once it waits in it (heartbeat / stamp written)."""
    wait_for(lambda: alive_trial(study, tmp_path / "trial") is not None, timeout=120)
    return int((tmp_path / "trial").read_text())


def _check_retried(study: optuna.Study, stale_number: int) -> None:
    """Exactly N_TRIALS COMPLETE, the stale trial FAIL and retried once with its params."""
    complete = check_study(study, N_TRIALS)
    trials = study.get_trials(deepcopy=False)
    stale = trials[stale_number]
    assert stale.state == TrialState.FAIL and stale.user_attrs["worker"] == 1
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == stale_number]
    assert len(retries) == 1 and retries[0] in complete
    assert retries[0].params == stale.params
    assert [t.number for t in trials if t.state == TrialState.FAIL] == [stale_number]


@pytest.mark.parametrize("kind", KINDS)
def test_sigkill_mid_trial_fails_and_retries_it(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _paused_study(kind, tmp_path, monkeypatch)
    with running_workers(config, 3) as workers:
        stale = _paused_trial(tmp_path, load(config))
        workers[1].kill()
        _failed_as_stale(load(config), stale)
        for w in workers:
            w.join(timeout=120)
        assert [w.exitcode for w in workers] == [0, -signal.SIGKILL, 0]
    _check_retried(load(config), stale)


@pytest.mark.parametrize(
    "kind",
    [
        "journal",
        pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.slow]),
        pytest.param("sqlite", marks=pytest.mark.slow),
    ],
)
def test_sigstop_past_grace_then_sigcont_drops_the_result(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _paused_study(kind, tmp_path, monkeypatch)
    with running_workers(config, 3) as workers:
        stale = _paused_trial(tmp_path, load(config))
        pid = workers[1].pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        study = load(config)
        try:
            _failed_as_stale(study, stale)
            # The retry is enqueued just after the FAIL: wait for it, then for its end.
            wait_for(lambda: _retry_of(study, stale) is not None, timeout=30)
            wait_for(lambda: _retry_of(study, stale).state.is_finished(), timeout=60)  # type: ignore[union-attr]
        finally:
            os.kill(pid, signal.SIGCONT)
        (tmp_path / "go").touch()  # the paused trial returns its values now
        for w in workers:
            w.join(timeout=120)
        assert [w.exitcode for w in workers] == [0, 0, 0]  # worker 1 did not crash
    study = load(config)
    _check_retried(study, stale)
    assert study.trials[stale].values is None  # the late result was dropped, not stored


def test_reaped_trial_is_no_longer_pending_for_the_sampler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Case 2: a journal trial without alive stamps is failed after the grace period, and
    ARSSampler's next proposal no longer counts it as a pending point."""
    from optuna_ars import ARSSampler

    storage = make_storage(f"journal:{tmp_path}/s.log", heartbeat=False)
    sampler = ARSSampler(
        seed=0, n_startup_trials=4, n_directions=16, n_iterations=2, n_qmc_samples=8, hidden=8
    )
    study = optuna.create_study(storage=storage, sampler=sampler, directions=["minimize"] * 2)
    space = {"x": optuna.distributions.FloatDistribution(0, 1)}
    for _ in range(4):
        t = study.ask(space)
        study.tell(t, [t.params["x"], 1 - t.params["x"]])
    seen: list[int] = []
    original = ARSSampler._propose

    def spy(self: ARSSampler, *args: object, **kwargs: object) -> object:
        seen.append(len(args[3]))  # type: ignore[arg-type]  # pending points
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ARSSampler, "_propose", spy)
    dead = study.ask(space)  # its worker dies: no alive stamps
    storage.set_trial_system_attr(dead._trial_id, ALIVE_ATTR, time.time() - 100)
    live = study.ask(space)
    assert seen == [0, 1]  # the dead trial is pending for the live one while it is young
    assert reap_stale_trials(study, grace_period=60, max_retry=0) == []  # not stale yet
    time.sleep(0.6)
    # Stamped alive, a minute ahead: no pause of this process before the reap makes it stale.
    storage.set_trial_system_attr(live._trial_id, ALIVE_ATTR, time.time() + 60)
    assert reap_stale_trials(study, grace_period=0.5, max_retry=0) == [dead.number]
    assert study.trials[dead.number].state == TrialState.FAIL
    study.ask(space)
    assert seen == [0, 1, 1]  # only the live trial is pending now (not 2)
