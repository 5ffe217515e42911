"""Objectives and helpers for the worker fault cases; importable by spawned workers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
import functools
import os
from pathlib import Path
import shutil
import subprocess
import time
import uuid

import optuna
import pytest

from studies.workers import WORKER_ENV
from studies.workers import WorkerConfig
from studies.workers import ars_sampler
from studies.workers import make_storage
from studies.workers import prepare_study
from studies.workers import start_workers
from tests.integration.support import SMALL
from tests.integration.support import objective

PAUSE_DIR_ENV = "OPTUNA_ARS_TEST_PAUSE_DIR"
PG_URL_ENV = "OPTUNA_ARS_TEST_PG_URL"
PG_RESTART_ENV = "OPTUNA_ARS_TEST_PG_RESTART"
# All start-up trials: no GP fits, the cheapest ARSSampler there is.
STARTUP_ONLY = {**SMALL, "n_startup_trials": 100}


def pausable(trial: optuna.Trial) -> tuple[float, float]:
    """The integration objective; worker 1's first trial announces itself and waits.

    In ``$PAUSE_DIR``: worker 1 writes its trial number to ``trial`` and waits (polling) until
    ``go`` exists; the other workers hold their trials until ``trial`` exists, so that worker 1
    gets one however slowly it starts.
    """
    values = objective(trial)
    folder = Path(os.environ[PAUSE_DIR_ENV])
    marker = folder / "trial"
    if os.environ.get(WORKER_ENV) == "1" and not marker.exists():
        marker.write_text(str(trial.number))
        deadline = time.monotonic() + 600
        while not (folder / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return values
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return values


def storage_spec(kind: str, tmp_path: Path) -> str:
    """A fresh storage of ``kind`` (``sqlite``, ``journal``, ``postgres``); skips without PG."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/s.db"
    if kind == "journal":
        return f"journal:{tmp_path}/s.log"
    url = os.environ.get(PG_URL_ENV)
    if not url:
        pytest.skip(
            "no PostgreSQL: " + os.environ.get("OPTUNA_ARS_TEST_PG_SKIP", f"{PG_URL_ENV} unset")
        )
    pytest.importorskip("psycopg2", reason="the PostgreSQL driver psycopg2 is not installed")
    return url


def worker_config(
    storage: str, *, n_trials: int, target: str, **overrides: object
) -> WorkerConfig:
    """A study with a unique name and 2 objectives, and the config of its workers."""
    settings: dict[str, object] = {
        "target": target,
        "storage": storage,
        "study_name": f"rel-{uuid.uuid4().hex[:8]}",
        "n_trials": n_trials,
        "sampler": functools.partial(ars_sampler, **STARTUP_ONLY),
        "heartbeat_interval": 1,
        "grace_period": 3,
        "poll_interval": 0.2,
        "timeout": 240,
        "torch_threads": 1,
        "lock_grace_period": 3,
    }
    config = WorkerConfig(**{**settings, **overrides})  # type: ignore[arg-type]
    prepare_study(config, directions=["minimize", "minimize"])
    return config


@contextmanager
def running_workers(config: WorkerConfig, n: int) -> Iterator[list]:  # type: ignore[type-arg]
    """Start ``n`` workers; on leaving, kill whatever still runs (no test hangs)."""
    workers = start_workers([replace(config, worker=i) for i in range(n)])
    try:
        yield workers
    finally:
        for w in workers:
            if w.is_alive():
                w.kill()
            w.join(timeout=30)


def wait_for(predicate: object, *, timeout: float, interval: float = 0.05) -> float:
    """Poll ``predicate()`` until true; the seconds it took (fails the test on timeout)."""
    start = time.monotonic()
    while not predicate():  # type: ignore[operator]
        if time.monotonic() - start > timeout:
            pytest.fail(f"not reached within {timeout} s: {predicate}")
        time.sleep(interval)
    return time.monotonic() - start


def load(config: WorkerConfig) -> optuna.Study:
    """The study as a reader sees it (no heartbeat)."""
    return optuna.load_study(
        study_name=config.study_name, storage=make_storage(config.storage, heartbeat=False)
    )


def restart_postgres(trial: optuna.Trial) -> tuple[float, float]:
    """The integration objective; trial 0 restarts the PostgreSQL server before it returns."""
    values = objective(trial)
    if trial.number == 0:
        command = os.environ[PG_RESTART_ENV].split()
        subprocess.run(command, check=True, timeout=120, capture_output=True)
    return values


def pg_restart_command(url: str) -> list[str] | None:
    """``pg_ctlcluster VERSION NAME restart`` for the local cluster behind ``url``, if any."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.host not in ("127.0.0.1", "localhost") or shutil.which("pg_lsclusters") is None:
        return None
    if os.geteuid() != 0:
        return None
    listing = subprocess.run(
        ["pg_lsclusters", "-h"], capture_output=True, text=True, timeout=30, check=False
    ).stdout
    for line in listing.splitlines():
        version, name, port, *_ = line.split()
        if int(port) == (parsed.port or 5432):
            return ["pg_ctlcluster", version, name, "restart"]
    return None
