from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import optuna
import pytest

from studies.workers import WorkerConfig
from studies.workers import ars_sampler
from studies.workers import make_storage
from studies.workers import prepare_study
from studies.workers import run_worker
from tests.integration.support import SMALL
from tests.integration.support import check_study


def _run(storage: str, name: str, *counts: int, **sampler: Any) -> optuna.Study:
    """Run the study up to each count in turn; each run opens its own storage and sampler."""
    for n in counts:
        config = WorkerConfig(
            target="tests.integration.support:objective",
            storage=storage,
            study_name=name,
            n_trials=n,
            sampler=functools.partial(ars_sampler, **SMALL | sampler),
        )
        prepare_study(config, directions=["minimize", "minimize"])
        run_worker(config)
    return optuna.load_study(study_name=name, storage=make_storage(storage, heartbeat=False))


def test_resume_continues_the_study(tmp_path: Path) -> None:
    study = _run(f"sqlite:///{tmp_path}/s.db", "s", 6, 6, 10, n_startup_trials=9)
    check_study(study, 10)
    assert len(study.trials) == 10  # the second run of 6 added nothing
    assert [("ars:policy" in t.user_attrs) for t in study.trials] == [False] * 9 + [True]


@pytest.mark.slow
def test_resumed_proposals_match_an_uninterrupted_study(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path}/s.db"
    resumed = _run(storage, "resumed", 6, 10)
    straight = _run(storage, "straight", 10)
    assert all("ars:policy" in t.user_attrs for t in resumed.trials[4:])
    # Proposals depend on (seed, trial number, stored trials) only; warm-started GP fits in
    # the uninterrupted run may move them in the last digits.
    for a, b in zip(resumed.trials, straight.trials, strict=True):
        assert a.params == pytest.approx(b.params, abs=1e-3)
        assert a.user_attrs.get("ars:policy") == b.user_attrs.get("ars:policy")
