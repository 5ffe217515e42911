"""Many worker processes on one study: SQLite, a journal file, or PostgreSQL.

Each worker is a separate process (``multiprocessing`` *spawn*) that opens the storage itself
and ``optuna.load_study``\\ s the shared study, so workers on other machines can join by
running the same call against the same PostgreSQL URL.

Storage specs (:func:`make_storage`):

* ``sqlite:///path/to/file.db`` — one machine; RDB heartbeat as below.
* ``postgresql://user:password@host:port/db`` (any SQLAlchemy driver, e.g.
  ``postgresql+psycopg2://``) — many machines; RDB heartbeat, ``pool_pre_ping``.
* ``journal:path/to/file.log``, or a path ending in ``.log``/``.journal`` — Optuna's
  ``JournalFileBackend``: one machine or a shared file system, no server, no heartbeat.

Crashes: with an RDB storage every running trial records a heartbeat every
``heartbeat_interval`` seconds; a trial whose heartbeat is older than ``grace_period`` (a
killed worker) is set to FAIL by the next worker that starts or waits for a trial, and
``RetryHeartbeatStaleTrialCallback`` enqueues a copy of it (same parameters, ``max_retry``
times). A journal storage has no heartbeat: a killed worker's trial stays RUNNING until it is
failed by hand (``study.tell(number, state=TrialState.FAIL)``). Ctrl-C fails the running trials
cleanly in every storage.

Trial count: the study stops at ``n_trials`` COMPLETE trials in total, counting those from
earlier runs (run the same call again to resume, or with a larger ``n_trials`` to extend). A
worker starts a trial only while COMPLETE + RUNNING + WAITING trials are fewer than
``n_trials``; when two workers pass that check at the same moment, the later trial (by number)
finds ``n_trials`` live trials before it and ends at once as PRUNED with user attr
``workers:surplus`` (no parameters). With a heartbeat storage, a worker that finds all remaining
slots taken waits (polling, and failing stale trials) until they complete or fail. A failing
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
from dataclasses import dataclass
from dataclasses import replace
import importlib
import multiprocessing
import os
from pathlib import Path
import time
from typing import Any

import optuna
from optuna.storages import BaseStorage
from optuna.study import StudyDirection
from optuna.trial import TrialState

Objective = Callable[[optuna.Trial], Any]
SamplerFactory = Callable[[int | None, int], optuna.samplers.BaseSampler]

WORKER_ENV = "OPTUNA_ARS_WORKER"
"""Environment variable holding the worker index (0 .. n_workers - 1) inside a worker."""

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

    Raises:
        ValueError: The spec is none of the above.
    """
    spec = spec.strip()
    if _is_journal(spec):
        path = spec.removeprefix("journal:")
        if not path:
            raise ValueError(f"storage {spec!r} names no journal file; {_SPEC_HELP}")
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(path))
    dialect = spec.partition("://")[0].partition("+")[0] if "://" in spec else ""
    if dialect not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported storage {spec!r}: {_SPEC_HELP}")
    engine_kwargs: dict[str, Any] = (
        {"connect_args": {"timeout": 60}}  # seconds to wait for SQLite's file lock
        if dialect == "sqlite"
        else {"pool_pre_ping": True}  # drop connections the server closed while idle
    )
    if not heartbeat:
        return optuna.storages.RDBStorage(spec, engine_kwargs=engine_kwargs)
    import warnings

    with warnings.catch_warnings():  # heartbeat_interval is "experimental" since 2.9
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(
            spec,
            engine_kwargs=engine_kwargs,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                max_retry=max_retry
            ),
        )


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
        heartbeat_interval, grace_period, max_retry: RDB heartbeat, see :func:`make_storage`.
        poll_interval: Seconds between checks of a worker waiting for running trials.
        timeout: Seconds after which a worker starts no new trial (``None``: no limit).
        catch: Objective exceptions that fail the trial but not the worker.
        torch_threads: torch intra-op threads per worker; default: this machine's cores
            shared out among the workers (at least 1), so they do not oversubscribe it.

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


def start_workers(configs: Sequence[WorkerConfig]) -> list[multiprocessing.process.BaseProcess]:
    """Start one spawned process per config (used by :func:`run_workers` and tests)."""
    context = multiprocessing.get_context("spawn")
    processes: list[multiprocessing.process.BaseProcess] = [
        context.Process(target=_worker_main, args=(c,), name=f"optuna-ars-worker-{c.worker}")
        for c in configs
    ]
    for p in processes:
        p.start()
    return processes


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


def run_worker(config: WorkerConfig) -> None:
    """One worker's loop in this process (what each spawned worker runs)."""
    storage = make_storage(
        config.storage,
        heartbeat=True,
        heartbeat_interval=config.heartbeat_interval,
        grace_period=config.grace_period,
        max_retry=config.max_retry,
    )
    heartbeat = isinstance(storage, optuna.storages.RDBStorage)
    study = optuna.load_study(
        study_name=config.study_name,
        storage=storage,
        sampler=config.sampler(config.seed, config.worker),
    )
    target = _resolve(config.target) if isinstance(config.target, str) else config.target

    def objective(trial: optuna.Trial) -> Any:
        trial.set_user_attr("worker", config.worker)
        before = study._storage.get_all_trials(study._study_id, deepcopy=False, states=_LIVE)
        if sum(t.number < trial.number for t in before) >= config.n_trials:
            trial.set_user_attr("workers:surplus", True)
            raise optuna.TrialPruned("surplus trial: the study already has its trials")
        return target(trial)

    deadline = None if config.timeout is None else time.monotonic() + config.timeout
    while deadline is None or time.monotonic() < deadline:
        trials = study._storage.get_all_trials(study._study_id, deepcopy=False, states=_LIVE)
        states = [t.state for t in trials]
        if states.count(TrialState.COMPLETE) >= config.n_trials:
            return
        if TrialState.WAITING not in states and len(trials) >= config.n_trials:
            # The remaining slots are taken by running trials.
            if not heartbeat:
                return  # they belong to live workers, or are lost: nothing to wait for
            time.sleep(config.poll_interval)
            optuna.storages.fail_stale_trials(study)
            continue
        study.optimize(objective, n_trials=1, catch=config.catch)


def _worker_main(config: WorkerConfig) -> None:
    os.environ[WORKER_ENV] = str(config.worker)
    import warnings

    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    if config.torch_threads is not None:
        import torch

        torch.set_num_threads(config.torch_threads)
    run_worker(config)


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
