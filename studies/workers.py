"""Many worker processes on one study: SQLite, a journal file, or PostgreSQL.

Each worker is a separate process (``multiprocessing`` *spawn*) that opens the storage itself
and ``optuna.load_study``\\ s the shared study, so workers on other machines can join by
running the same call against the same PostgreSQL URL. The workers of one :func:`run_workers`
call begin their first trial together (:func:`start_workers`).

Storage specs (:func:`make_storage`):

* ``sqlite:///path/to/file.db`` — one machine; RDB heartbeat as below.
* ``postgresql://user:password@host:port/db`` (any SQLAlchemy driver, e.g.
  ``postgresql+psycopg2://``) — many machines; RDB heartbeat, ``pool_pre_ping``.
* ``journal:path/to/file.log``, or a path ending in ``.log``/``.journal`` — Optuna's
  ``JournalFileBackend``: one machine or a shared file system, no server; our own heartbeat
  (:func:`reap_stale_trials`). Records are checked (:class:`JournalCorruptError`): a torn last
  record (a writer killed mid-write) is moved to ``FILE.torn``; any other bad line stops the
  load with its file and line.

Crashes: with an RDB storage every running trial records a heartbeat every
``heartbeat_interval`` seconds; a trial whose heartbeat is older than ``grace_period`` (a
killed worker) is set to FAIL by the next worker that starts or waits for a trial, and
``RetryHeartbeatStaleTrialCallback`` enqueues a copy of it (same parameters, ``max_retry``
times). A journal storage has no heartbeat in Optuna: here every worker stamps its running
trial's system attr ``workers:alive`` every ``heartbeat_interval`` seconds, and workers fail
(and retry the same way) RUNNING trials whose stamp is older than ``grace_period``
(:func:`reap_stale_trials`). A worker whose trial was failed under it (paused past the grace
period) drops its result with a warning and goes on. Ctrl-C fails the running trials cleanly
in every storage.

Trial count: the study stops at ``n_trials`` COMPLETE trials in total, counting those from
earlier runs (run the same call again to resume, or with a larger ``n_trials`` to extend). A
worker starts a trial only while COMPLETE + RUNNING + WAITING trials are fewer than
``n_trials``; when two workers pass that check at the same moment, the later trial (by number)
finds ``n_trials`` live trials before it and ends at once as PRUNED with user attr
``workers:surplus`` (no parameters). A worker that finds all remaining slots taken waits
(polling, and failing stale trials) until they complete or fail. A failing
objective re-raises in its worker (which exits non-zero) unless its exception is in ``catch``.

Seeds: :func:`ars_sampler` gives every worker the *same* ``seed``. ARSSampler derives each
trial's randomness from ``(seed, trial.number)`` and trial numbers are unique in a study, so
workers propose different points while the Latin-hypercube start-up design stays one design
across workers, and the study does not depend on which worker ran which trial. Samplers whose
random stream is per process (TPE, NSGA-II, random) need :func:`worker_seed` instead, or
workers with one seed propose the same points: see :func:`seeded_sampler`.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
import contextlib
from dataclasses import dataclass
from dataclasses import replace
from datetime import datetime
import importlib
import json
import multiprocessing
import os
from pathlib import Path
import socket
import threading
from threading import Barrier
import time
from types import TracebackType
from typing import Any
import uuid

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage
from optuna.storages.journal import JournalFileBackend
from optuna.storages.journal._file import BaseJournalFileLock
from optuna.study import StudyDirection
from optuna.trial import TrialState

Objective = Callable[[optuna.Trial], Any]
SamplerFactory = Callable[[int | None, int], optuna.samplers.BaseSampler]

WORKER_ENV = "OPTUNA_ARS_WORKER"
"""Environment variable holding the worker index (0 .. n_workers - 1) inside a worker."""
START_TIMEOUT = 120.0
"""Seconds a spawned worker waits for the others before its first trial (:func:`start_workers`)."""
ALIVE_ATTR = "workers:alive"
"""Trial system attr: a journal worker's last "alive" stamp for its trial (Unix seconds)."""

_logger = optuna.logging.get_logger(__name__)

_LIVE = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING)
_JOURNAL_SUFFIXES = (".log", ".journal")
_SPEC_HELP = (
    "use sqlite:///FILE.db, postgresql://USER:PASSWORD@HOST:PORT/DB, "
    "or journal:FILE (a path ending in .log or .journal also means a journal file)"
)


def make_storage(
    spec: str,
    *,
    heartbeat: bool,
    heartbeat_interval: int = 60,
    grace_period: int | None = None,
    max_retry: int | None = 1,
    lock_grace_period: float = 30,
) -> BaseStorage:
    """The Optuna storage for a spec (see the module docstring).

    Args:
        spec: ``sqlite:///…``, ``postgresql[+driver]://…``, ``journal:PATH`` or ``PATH.log``.
        heartbeat: Enable the RDB heartbeat and the retry of stale trials (workers); leave it
            off to read a study (reports, dashboards). Ignored for journal files.
        heartbeat_interval: Seconds between heartbeats of a running trial.
        grace_period: Seconds without a heartbeat before a trial is stale (Optuna's default:
            twice the interval).
        max_retry: Times a stale trial is re-enqueued (``None``: no limit).
        lock_grace_period: Journal files: seconds after which a lock file left by a process
            of another host is removed (a dead process of this host: at once), see
            :class:`JournalLock`.

    Raises:
        ValueError: The spec is none of the above.
        JournalCorruptError: The journal file holds a bad record (file and line named).
    """
    spec = spec.strip()
    if _is_journal(spec):
        path = spec.removeprefix("journal:")
        if not path:
            raise ValueError(f"storage {spec!r} names no journal file; {_SPEC_HELP}")
        if Path(path).is_dir() or not Path(path).parent.is_dir():
            raise ValueError(f"storage {spec!r}: {path!r} is not a file in an existing folder")
        return optuna.storages.JournalStorage(
            CheckedJournalFileBackend(path, lock_grace_period=lock_grace_period)
        )
    dialect = spec.partition("://")[0].partition("+")[0] if "://" in spec else ""
    if dialect not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported storage {spec!r}: {_SPEC_HELP}")
    if dialect == "sqlite":
        file = storage_path(spec)
        if file is not None and not file.parent.is_dir():
            raise ValueError(f"storage {spec!r}: folder {str(file.parent)!r} does not exist")
    engine_kwargs: dict[str, Any] = (
        {"connect_args": {"timeout": 60}}  # seconds to wait for SQLite's file lock
        if dialect == "sqlite"
        else {"pool_pre_ping": True}  # drop connections the server closed while idle
    )
    import warnings

    import sqlalchemy.exc

    try:
        with warnings.catch_warnings():  # heartbeat_interval is "experimental" since 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            kwargs: dict[str, Any] = {"engine_kwargs": engine_kwargs}
            if heartbeat:
                kwargs.update(
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                    heartbeat_stale_trial_callback=_retry_callback(max_retry),
                )
            for attempt in range(4):
                try:
                    return optuna.storages.RDBStorage(spec, **kwargs)
                except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.OperationalError):
                    # another process is creating the schema ("already exists")
                    if attempt == 3:
                        raise
                    time.sleep(0.1 * (attempt + 1))
            raise AssertionError("not reached")
    except (sqlalchemy.exc.SQLAlchemyError, ImportError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"cannot open storage {_redacted(spec)!r}: {first}") from None


class JournalCorruptError(ValueError):
    """A journal file holds a record that is not valid JSON (file and line in the message)."""


class CheckedJournalFileBackend(JournalFileBackend):
    """``JournalFileBackend`` that never loses records silently (optuna#5138).

    * A torn last record — a writer killed in the middle of a line, seen while holding the lock
      so no live writer is mid-write — is moved to ``FILE.torn`` (with its line number) before
      the file is opened and before every append; an append after it would otherwise be glued
      to it and both records lost. The torn record's operation never returned to its writer, so
      at worst its trial stays RUNNING until :func:`reap_stale_trials` fails and retries it.
    * Any other record that is not valid JSON raises :class:`JournalCorruptError` naming the
      file and the line, at once (Optuna raises a bare ``JSONDecodeError`` one record later, or
      nothing when it is the last line).
    * Writers exclude each other with :class:`JournalLock`.
    """

    def __init__(self, file_path: str, *, lock_grace_period: float = 30) -> None:
        super().__init__(
            file_path, lock_obj=JournalLock(file_path, grace_period=lock_grace_period)
        )
        with _journal_lock(self):
            self._quarantine_torn_tail()

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        """Append ``logs`` under the lock, after moving a torn last record aside."""
        data = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs)
        with _journal_lock(self):
            self._quarantine_torn_tail()
            with open(self._file_path, "ab") as f:
                f.write(data.encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())

    def read_logs(self, log_number_from: int) -> Any:
        """Records from ``log_number_from`` on; a line not yet ended (being written) waits."""
        with open(self._file_path, "rb") as f:
            start = 0
            if log_number_from in self._log_number_offset:
                f.seek(self._log_number_offset[log_number_from])
                start = log_number_from
            for number, line in enumerate(f, start=start):
                if not line.endswith(b"\n"):
                    return  # the last line, still being written: read it next time
                self._log_number_offset.setdefault(
                    number + 1, self._log_number_offset[number] + len(line)
                )
                if number < log_number_from:
                    continue
                try:
                    yield json.loads(line)
                except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
                    raise JournalCorruptError(
                        f"journal file {self._file_path!r}, line {number + 1}: not a valid "
                        f"record ({err}); later records may depend on it: repair or remove "
                        "that line, or restore a backup"
                    ) from None

    def _quarantine_torn_tail(self) -> None:
        """Move an unterminated last line to ``FILE.torn`` (call with the lock held)."""
        with open(self._file_path, "rb+") as f:
            size = f.seek(0, os.SEEK_END)
            if size == 0:
                return
            f.seek(size - 1)
            if f.read(1) == b"\n":
                return
            f.seek(0)
            data = f.read()  # rare: only after a writer died mid-record
            cut = data.rfind(b"\n") + 1
            line = data.count(b"\n", 0, cut) + 1
            with open(self._file_path + ".torn", "ab") as out:
                stamp = datetime.now().isoformat(timespec="seconds")
                out.write(f"# {stamp} line {line}, {size - cut} bytes:\n".encode())
                out.write(data[cut:] + b"\n")
                out.flush()
                os.fsync(out.fileno())
            f.truncate(cut)
            f.flush()
            os.fsync(f.fileno())
        _logger.warning(
            f"journal file {self._file_path!r}: line {line} was torn (a writer died while "
            f"writing it); moved its {size - cut} bytes to {self._file_path + '.torn'!r}"
        )


class JournalLock(BaseJournalFileLock):
    """The journal's ``FILE.lock``, safe to break when its holder died.

    An ``O_EXCL`` file holding ``host pid token``. A lock whose holder is a dead process on
    this host is broken at once; any other lock (another host's, or Optuna's own symlink lock)
    once it is older than ``grace_period`` seconds. Breaking happens under a second lock file
    (``FILE.lock.break``) after checking that the lock is still the one found stale, so that
    several waiters never break each other's fresh locks (Optuna's ``JournalFileSymlinkLock``
    does: one of them then fails with "did not possess lock"). Uses the same file name as
    Optuna's lock, so plain Optuna writers are excluded too.
    """

    def __init__(self, file_path: str, *, grace_period: float = 30) -> None:
        self._path = file_path + ".lock"
        self._grace = grace_period
        self._token = f"{socket.gethostname()} {os.getpid()} {uuid.uuid4().hex}"

    def acquire(self) -> bool:
        """Block until the lock is ours."""
        pause = 0.001
        while True:
            try:
                fd = os.open(self._path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._break_if_stale()
                time.sleep(pause)
                pause = min(2 * pause, 0.05)
                continue
            with os.fdopen(fd, "w") as f:
                f.write(self._token)
            return True

    def release(self) -> None:
        """Remove the lock file if it is still ours."""
        try:
            if self._owner() == self._token:
                os.unlink(self._path)
                return
        except FileNotFoundError:
            pass
        _logger.warning(f"journal lock {self._path!r} was broken while held (held too long?)")

    def _owner(self) -> str:
        if os.path.islink(self._path):
            return ""  # Optuna's symlink lock: no owner recorded
        with open(self._path) as f:
            return f.read()

    def _break_if_stale(self) -> None:
        try:
            found = os.lstat(self._path)
            owner = self._owner()
        except FileNotFoundError:
            return
        age = time.time() - found.st_mtime
        if age <= self._grace and not _dead_here(owner):
            return
        breaker = self._path + ".break"
        try:
            os.close(os.open(breaker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            with contextlib.suppress(FileNotFoundError):  # a breaker that died meanwhile
                if time.time() - os.lstat(breaker).st_mtime > self._grace:
                    os.unlink(breaker)
            return
        try:
            now = os.lstat(self._path)
            if (now.st_ino, now.st_mtime_ns) == (found.st_ino, found.st_mtime_ns) and (
                self._owner() == owner
            ):
                os.unlink(self._path)
                _logger.warning(
                    f"journal lock {self._path!r} left by {owner or 'another process'!r} "
                    f"({age:.1f} s old): removed"
                )
        except FileNotFoundError:
            pass
        finally:
            os.unlink(breaker)


def _dead_here(owner: str) -> bool:
    """Whether a lock's ``host pid token`` names a process of this host that is gone."""
    host, _, rest = owner.partition(" ")
    pid = rest.partition(" ")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _retry_callback(max_retry: int | None) -> optuna.storages.RetryHeartbeatStaleTrialCallback:
    import warnings

    with warnings.catch_warnings():  # "experimental" since 2.8
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry)


def _journal_lock(backend: JournalFileBackend) -> Any:
    from optuna.storages.journal._file import get_lock_file

    return get_lock_file(backend._lock)


def _redacted(spec: str) -> str:
    """``spec`` with its password hidden."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(spec).render_as_string(hide_password=True)
    except Exception:
        return spec


def reap_stale_trials(
    study: optuna.Study, *, grace_period: float, max_retry: int | None = 1
) -> list[int]:
    """Fail RUNNING trials not stamped alive for ``grace_period`` seconds; retry each once.

    The heartbeat of storages without one (journal files): a trial's age is the time since
    its last :data:`ALIVE_ATTR` stamp or its start, whichever is later. A failed trial gets a
    WAITING copy with the same parameters (``RetryHeartbeatStaleTrialCallback``, up to
    ``max_retry`` times). When several workers reap one trial, only the first fails and
    retries it. Clocks of the machines sharing the file must agree. Returns the numbers failed.
    """
    storage = study._storage
    retry = _retry_callback(max_retry)
    now = time.time()
    failed = []
    for t in storage.get_all_trials(study._study_id, deepcopy=False, states=(TrialState.RUNNING,)):
        last = max(
            float(t.system_attrs.get(ALIVE_ATTR, 0.0)),
            t.datetime_start.timestamp() if t.datetime_start is not None else now,
        )
        if now - last <= grace_period:
            continue
        try:
            if not storage.set_trial_state_values(t._trial_id, TrialState.FAIL):
                continue
        except UpdateFinishedTrialError:
            continue  # finished meanwhile, or failed by another worker first
        stale = storage.get_trial(t._trial_id)
        if stale.state != TrialState.FAIL:
            continue
        _logger.warning(
            f"trial {t.number}: no alive stamp for {now - last:.1f} s (> {grace_period} s): "
            "failed as stale; a copy with its parameters is enqueued"
        )
        failed.append(t.number)
        retry(study, stale)
    return failed


class _AliveStamp:
    """Stamps a trial's :data:`ALIVE_ATTR` now and then every ``interval`` s, in a thread."""

    def __init__(self, storage: BaseStorage, trial_id: int, interval: float) -> None:
        self._storage = storage
        self._trial_id = trial_id
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> None:
        self._stamp()
        self._thread.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            if not self._stamp():
                return

    def _stamp(self) -> bool:
        try:
            if self._storage.get_trial(self._trial_id).state != TrialState.RUNNING:
                return False
            self._storage.set_trial_system_attr(self._trial_id, ALIVE_ATTR, time.time())
        except UpdateFinishedTrialError:
            return False
        except Exception as err:  # a storage hiccup: try again at the next stamp
            _logger.warning(f"trial id {self._trial_id}: alive stamp not written: {err!r}")
        return True


def worker_seed(seed: int | None, worker: int) -> int | None:
    """A per-worker seed, stable across processes and runs (``None`` stays ``None``)."""
    if seed is None:
        return None
    from optuna_ars._startup import derive_seed

    return derive_seed(seed, "worker", worker)


def ars_sampler(seed: int | None, worker: int, **kwargs: Any) -> optuna.samplers.BaseSampler:
    """Default sampler factory: ``ARSSampler(seed=seed, **kwargs)``, one seed for all workers.

    Bind settings with ``functools.partial(ars_sampler, n_startup_trials=4, ...)``.
    """
    from optuna_ars import ARSSampler

    return ARSSampler(seed=seed, **kwargs)


def seeded_sampler(
    seed: int | None, worker: int, *, name: str, **kwargs: Any
) -> optuna.samplers.BaseSampler:
    """Factory for Optuna's own samplers by class name, seeded by :func:`worker_seed`.

    ``functools.partial(seeded_sampler, name="TPESampler", n_startup_trials=10)``.
    """
    cls = getattr(optuna.samplers, name)
    sampler: optuna.samplers.BaseSampler = cls(seed=worker_seed(seed, worker), **kwargs)
    return sampler


@dataclass(frozen=True)
class WorkerConfig:
    """What one worker process runs; the fields are :func:`run_workers`' arguments."""

    target: str | Objective
    storage: str
    study_name: str
    n_trials: int
    worker: int = 0
    seed: int | None = 0
    sampler: SamplerFactory = ars_sampler
    heartbeat_interval: int = 60
    grace_period: int | None = None
    max_retry: int | None = 1
    poll_interval: float = 1.0
    timeout: float | None = None
    catch: tuple[type[Exception], ...] = ()
    torch_threads: int | None = None
    lock_grace_period: float = 30


def run_workers(
    *,
    n_workers: int,
    target: str | Objective,
    storage: str,
    study_name: str,
    n_trials: int,
    directions: Sequence[str] | None = None,
    seed: int | None = 0,
    sampler: SamplerFactory = ars_sampler,
    heartbeat_interval: int = 60,
    grace_period: int | None = None,
    max_retry: int | None = 1,
    poll_interval: float = 1.0,
    timeout: float | None = None,
    catch: tuple[type[Exception], ...] = (),
    torch_threads: int | None = None,
    lock_grace_period: float = 30,
) -> list[int]:
    """Run ``n_workers`` processes on one study until it holds ``n_trials`` COMPLETE trials.

    Args:
        n_workers: Worker processes (>= 1).
        target: The objective: a picklable callable (a module-level function, a
            ``functools.partial`` of one, an instance of a module-level class) or
            ``"package.module:function"``.
        storage: Storage spec, see :func:`make_storage`; not an in-memory database.
        study_name: The study; created here when missing (then ``directions`` is required).
        n_trials: Total COMPLETE trials of the study, earlier runs included.
        directions: ``"minimize"``/``"maximize"`` per objective, for a new study.
        seed: Base seed, handed to ``sampler`` with each worker's index.
        sampler: ``factory(seed, worker_index) -> sampler``, picklable; default
            :func:`ars_sampler` (ARSSampler, same seed in every worker).
        heartbeat_interval, grace_period, max_retry: Heartbeat (RDB) or alive stamps and
            :func:`reap_stale_trials` (journal file), see :func:`make_storage`.
        poll_interval: Seconds between checks of a worker waiting for running trials.
        timeout: Seconds after which a worker starts no new trial (``None``: no limit).
        catch: Objective exceptions that fail the trial but not the worker.
        torch_threads: torch intra-op threads per worker; default: this machine's cores
            shared out among the workers (at least 1), so they do not oversubscribe it.
        lock_grace_period: Journal files: seconds before a dead process's lock is removed.

    Returns:
        The workers' exit codes (0: done; negative: killed by that signal).
    """
    if n_workers < 1:
        raise ValueError(f"n_workers must be >= 1, got {n_workers}")
    config = WorkerConfig(
        target=target,
        storage=storage,
        study_name=study_name,
        n_trials=n_trials,
        seed=seed,
        sampler=sampler,
        heartbeat_interval=heartbeat_interval,
        grace_period=grace_period,
        max_retry=max_retry,
        poll_interval=poll_interval,
        timeout=timeout,
        catch=catch,
        torch_threads=torch_threads or max(1, (os.cpu_count() or 1) // n_workers),
        lock_grace_period=lock_grace_period,
    )
    prepare_study(config, directions=directions)
    configs = [replace(config, worker=i) for i in range(n_workers)]
    processes = start_workers(configs)
    return wait_workers(processes)


def prepare_study(config: WorkerConfig, *, directions: Sequence[str] | None = None) -> None:
    """Check a worker config and create its study when missing (``directions`` given).

    Raises:
        ValueError: Bad storage spec, in-memory storage, bad target, ``n_trials < 1``,
            or an existing study with other directions.
        KeyError: No such study and no ``directions``.
    """
    if config.n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {config.n_trials}")
    if ":memory:" in config.storage or config.storage.strip().rstrip("/") == "sqlite:":
        raise ValueError(f"storage {config.storage!r} is in memory: workers need a file or server")
    if isinstance(config.target, str):
        _resolve(config.target)  # fail here, not in every worker
    storage = make_storage(config.storage, heartbeat=False)
    if directions is None:
        optuna.load_study(study_name=config.study_name, storage=storage)
        return
    wanted = [d.lower() for d in directions]
    if not wanted or any(d not in ("minimize", "maximize") for d in wanted):
        raise ValueError(f"directions must be 'minimize' or 'maximize', got {list(directions)}")
    study = optuna.create_study(
        storage=storage,
        study_name=config.study_name,
        directions=[StudyDirection[d.upper()] for d in wanted],
        load_if_exists=True,
    )
    have = [d.name.lower() for d in study.directions]
    if have != wanted:
        raise ValueError(
            f"study {config.study_name!r} exists with directions {have}, not {list(directions)}"
        )


def start_workers(
    configs: Sequence[WorkerConfig], *, start_timeout: float = START_TIMEOUT
) -> list[multiprocessing.process.BaseProcess]:
    """Start one spawned process per config (used by :func:`run_workers` and tests).

    The workers begin their first trial together: each waits, after importing and opening the
    study, for the others (at most ``start_timeout`` seconds, then it goes on alone). Without
    that, the first worker to finish importing torch runs every trial of a short study.
    """
    barrier = multiprocessing.get_context("spawn").Barrier(len(configs), timeout=start_timeout)
    processes: list[multiprocessing.process.BaseProcess] = [
        _WorkerProcess(c, barrier) for c in configs
    ]
    for p in processes:
        p.start()
    return processes


class _WorkerProcess(multiprocessing.context.SpawnProcess):
    """A spawned worker process that holds its start barrier here too: ``start()`` drops the
    process's args, and a barrier no one in this process holds loses its semaphore before the
    child has opened it (``FileNotFoundError`` in the child)."""

    def __init__(self, config: WorkerConfig, start: Barrier) -> None:
        super().__init__(
            target=_worker_main, args=(config, start), name=f"optuna-ars-worker-{config.worker}"
        )
        self.start_barrier = start


def wait_workers(processes: Sequence[multiprocessing.process.BaseProcess]) -> list[int]:
    """Join the processes and return their exit codes; on Ctrl-C stop them, then re-raise."""
    try:
        for p in processes:
            p.join()
    except KeyboardInterrupt:  # the workers got the SIGINT too: they fail their trials
        for p in processes:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()
        raise
    return [p.exitcode if p.exitcode is not None else -1 for p in processes]


def run_worker(config: WorkerConfig, *, start: Barrier | None = None) -> None:
    """One worker's loop in this process (what each spawned worker runs).

    ``start``: a barrier the workers of one :func:`start_workers` call pass together before
    their first trial (a broken or timed-out barrier is not an error: the worker goes on).
    """
    storage = make_storage(
        config.storage,
        heartbeat=True,
        heartbeat_interval=config.heartbeat_interval,
        grace_period=config.grace_period,
        max_retry=config.max_retry,
        lock_grace_period=config.lock_grace_period,
    )
    study = optuna.load_study(
        study_name=config.study_name,
        storage=storage,
        sampler=config.sampler(config.seed, config.worker),
    )
    target = _resolve(config.target) if isinstance(config.target, str) else config.target
    if start is not None:
        with contextlib.suppress(threading.BrokenBarrierError):
            start.wait()

    def objective(trial: optuna.Trial) -> Any:
        trial.set_user_attr("worker", config.worker)
        before = study._storage.get_all_trials(study._study_id, deepcopy=False, states=_LIVE)
        if sum(t.number < trial.number for t in before) >= config.n_trials:
            trial.set_user_attr("workers:surplus", True)
            raise optuna.TrialPruned("surplus trial: the study already has its trials")
        return target(trial)

    deadline = None if config.timeout is None else time.monotonic() + config.timeout
    while deadline is None or time.monotonic() < deadline:
        _fail_stale(study, config)
        trials = study._storage.get_all_trials(study._study_id, deepcopy=False, states=_LIVE)
        states = [t.state for t in trials]
        if states.count(TrialState.COMPLETE) >= config.n_trials:
            return
        if TrialState.WAITING not in states and len(trials) >= config.n_trials:
            time.sleep(config.poll_interval)  # the remaining slots are taken by running trials
            continue
        _run_trial(study, objective, config)


def _fail_stale(study: optuna.Study, config: WorkerConfig) -> None:
    """Fail (and retry) the trials of dead workers: RDB heartbeat, or our alive stamps."""
    import warnings

    if isinstance(study._storage, optuna.storages.RDBStorage):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
    else:
        grace = config.grace_period or 2 * config.heartbeat_interval
        reap_stale_trials(study, grace_period=grace, max_retry=config.max_retry)


def _run_trial(study: optuna.Study, objective: Objective, config: WorkerConfig) -> None:
    """Ask, run and tell one trial, with a heartbeat (RDB) or alive stamps (journal).

    A trial failed under this worker while it ran (it was paused past the grace period, so a
    retry of it runs elsewhere) keeps its FAIL: the result is dropped with a warning, where
    ``study.optimize`` would crash (optuna#5470, #5582).
    """
    import warnings

    from optuna.storages._heartbeat import get_heartbeat_thread

    with warnings.catch_warnings():  # our loop runs the heartbeat thread itself
        warnings.filterwarnings("ignore", "Heartbeat of storage", UserWarning)
        trial = study.ask()
    storage = study._storage
    keepalive = (
        get_heartbeat_thread(trial._trial_id, storage)
        if isinstance(storage, optuna.storages.RDBStorage)
        else _AliveStamp(storage, trial._trial_id, config.heartbeat_interval)
    )
    values: Any = None
    state: TrialState | None = None
    error: BaseException | None = None
    with keepalive:
        try:
            values = objective(trial)
        except optuna.TrialPruned:
            state = TrialState.PRUNED
        except (Exception, KeyboardInterrupt) as err:
            state, error = TrialState.FAIL, err
            _logger.warning(f"trial {trial.number} failed: {err!r}")
    try:
        if storage.get_trial(trial._trial_id).state.is_finished():
            raise UpdateFinishedTrialError("finished under this worker")
        frozen = study.tell(trial, values, state=state, skip_if_finished=True)
        if frozen.state == TrialState.COMPLETE:
            _logger.info(f"trial {trial.number} finished with values {frozen.values}")
    except UpdateFinishedTrialError:
        _logger.warning(
            f"trial {trial.number} was failed as stale while this worker ran it (paused past "
            "the grace period?): its result is dropped; its retry runs in another worker"
        )
    if error is not None and not isinstance(error, config.catch):
        raise error


def _worker_main(config: WorkerConfig, start: Barrier) -> None:
    os.environ[WORKER_ENV] = str(config.worker)
    import warnings

    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    if config.torch_threads is not None:
        import torch

        torch.set_num_threads(config.torch_threads)
    run_worker(config, start=start)


def _resolve(target: str) -> Objective:
    """``"package.module:function"`` → the function."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ValueError(f"target {target!r} must look like 'package.module:function'")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"cannot import target {target!r}: {err}") from err
    if not callable(obj):
        raise ValueError(f"target {target!r} is not callable")
    func: Objective = obj
    return func


def storage_path(spec: str) -> Path | None:
    """The file behind a SQLite or journal spec (``None`` for a server or memory)."""
    spec = spec.strip()
    if _is_journal(spec):
        return Path(spec.removeprefix("journal:"))
    if spec.startswith("sqlite:///") and ":memory:" not in spec:
        return Path(spec.removeprefix("sqlite:///"))
    return None


def _is_journal(spec: str) -> bool:
    return spec.startswith("journal:") or (spec.endswith(_JOURNAL_SUFFIXES) and "://" not in spec)
