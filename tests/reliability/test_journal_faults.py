"""Issue 6, cases 4-6 on journal files: torn records, stale locks, many writers at once.

Setup: a journal-file study with a few COMPLETE trials. Faults: a record cut short by a dying
writer, a garbled record in the middle, a lock file left by a killed process, many threads
creating the same study. Expected: nothing lost silently (torn tail quarantined, a bad line
named with file and line), progress after the lock's grace period, unique trial numbers.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
import contextlib
import logging
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import optuna
from optuna.storages.journal import JournalFileBackend
import pytest

from studies.workers import JournalCorruptError
from studies.workers import make_storage

optuna.logging.set_verbosity(optuna.logging.WARNING)
TORN = b'{"op_code":6,"worker_id":"dead-1","trial_id":0,"para'


def _study_with_trials(path: Path, n: int = 3) -> optuna.Study:
    study = optuna.create_study(storage=make_storage(f"journal:{path}", heartbeat=False))
    for _ in range(n):
        t = study.ask()
        study.tell(t, t.suggest_float("x", 0, 1))
    return study


def _reload(path: Path) -> optuna.Study:
    return optuna.load_study(study_name=None, storage=make_storage(str(path), heartbeat=False))


def test_plain_optuna_loses_the_record_after_a_torn_line(tmp_path: Path) -> None:
    """The fault is real: with Optuna's backend a record appended after a torn line is lost."""
    path = tmp_path / "s.log"
    _study_with_trials(path)
    with path.open("ab") as f:
        f.write(TORN)
    plain = optuna.load_study(
        study_name=None, storage=optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    )
    with contextlib.suppress(AttributeError):  # Optuna 5.0 cannot find the trial it wrote
        plain.enqueue_trial({"x": 0.5})  # glued onto the torn line
    again = optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    assert len(optuna.load_study(study_name=None, storage=again).trials) == 3  # silently lost


def test_torn_last_record_is_quarantined_and_the_study_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "s.log"
    _study_with_trials(path)
    lines = path.read_bytes().count(b"\n")
    with path.open("ab") as f:
        f.write(TORN)  # a writer killed mid-record
    with caplog.at_level(logging.WARNING):
        study = _reload(path)
    assert f"line {lines + 1} was torn" in caplog.text and str(path) in caplog.text
    quarantine = (tmp_path / "s.log.torn").read_bytes()
    assert TORN in quarantine and f"line {lines + 1},".encode() in quarantine
    study.enqueue_trial({"x": 0.5})
    t = study.ask()
    study.tell(t, t.suggest_float("x", 0, 1))
    reloaded = _reload(path)
    assert len(reloaded.trials) == 4 and reloaded.trials[3].params == {"x": 0.5}
    assert [t.number for t in reloaded.trials] == [0, 1, 2, 3]


def test_torn_record_under_an_open_storage_is_quarantined_before_the_next_append(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.log"
    study = _study_with_trials(path)  # a live worker's storage, opened before the fault
    with path.open("ab") as f:
        f.write(TORN)
    t = study.ask()
    study.tell(t, t.suggest_float("x", 0, 1))
    assert len(_reload(path).trials) == 4
    assert TORN in (tmp_path / "s.log.torn").read_bytes()


def test_garbled_record_fails_fast_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "s.log"
    _study_with_trials(path)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[3] = b'{"op_code":5,"worker_id":\x00\x00garbage\n'  # disk damage in the middle
    path.write_bytes(b"".join(lines))
    with pytest.raises(JournalCorruptError) as err:
        _reload(path)
    message = str(err.value)
    assert repr(str(path)) in message and "line 4:" in message and "\n" not in message
    assert path.read_bytes() == b"".join(lines)  # nothing rewritten


def _die_holding_the_lock(path: Path, *, kind: str) -> None:
    """A process that takes the journal lock and is SIGKILLed while holding it."""
    take = (
        f"from studies.workers import JournalLock; JournalLock({str(path)!r}).acquire()"
        if kind == "ours"
        else "from optuna.storages.journal import JournalFileSymlinkLock; "
        f"JournalFileSymlinkLock({str(path)!r}).acquire()"
    )
    code = f"import os, signal; {take}; os.kill(os.getpid(), signal.SIGKILL)"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    proc = subprocess.run([sys.executable, "-c", code], env=env, timeout=60, check=False)
    assert proc.returncode == -signal.SIGKILL
    assert os.path.lexists(f"{path}.lock")


@pytest.mark.parametrize(("kind", "grace", "held"), [("optuna", 2.0, 2.0), ("ours", 120.0, 0.0)])
def test_stale_lock_of_a_dead_process(
    tmp_path: Path, kind: str, grace: float, held: float
) -> None:
    """Case 5: 4 writers wait for a dead process's lock, then all go on; numbers unique.

    Optuna's symlink lock (no owner recorded) is broken once it is older than the grace period
    (2 s): no writer gets it sooner. Ours, whose owner is a dead process of this host, at once:
    its grace period (120 s) is longer than the writers' timeout (60 s).
    """
    path = tmp_path / "s.log"
    _study_with_trials(path, n=1)
    _die_holding_the_lock(path, kind=kind)
    locked = os.lstat(f"{path}.lock").st_mtime
    wrote: list[float] = []  # when each trial was stored

    def write(_: int) -> None:
        storage = make_storage(f"journal:{path}", heartbeat=False, lock_grace_period=grace)
        study = optuna.load_study(study_name=None, storage=storage)
        for _ in range(5):
            t = study.ask()
            study.tell(t, t.suggest_float("x", 0, 1))
            wrote.append(time.time())

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(4), timeout=60))  # raises what a writer raised
    assert min(wrote) - locked >= held
    trials = _reload(path).trials
    assert [t.number for t in trials] == list(range(21))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert not os.path.lexists(f"{path}.lock")


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_ten_threads_create_the_same_study_at_once(tmp_path: Path, kind: str) -> None:
    """Case 6: ``create_study(load_if_exists=True)`` from 10 threads: one study, no error."""
    spec = f"journal:{tmp_path}/s.log" if kind == "journal" else f"sqlite:///{tmp_path}/s.db"

    def create(_: int) -> int:
        study = optuna.create_study(
            storage=make_storage(spec, heartbeat=False),
            study_name="same",
            directions=["minimize", "minimize"],
            load_if_exists=True,
        )
        t = study.ask()
        study.tell(t, [t.suggest_float("x", 0, 1), 0.0])
        return study._study_id

    with ThreadPoolExecutor(10) as pool:
        ids = list(pool.map(create, range(10), timeout=120))
    assert len(set(ids)) == 1
    summaries = optuna.get_all_study_summaries(make_storage(spec, heartbeat=False))
    assert [s.study_name for s in summaries] == ["same"]
    trials = optuna.load_study(study_name="same", storage=make_storage(spec, heartbeat=False))
    assert sorted(t.number for t in trials.trials) == list(range(10))
