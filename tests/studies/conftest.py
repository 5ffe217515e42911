from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from optuna_ars import ARSSampler
from tests.integration.support import SMALL
from tests.integration.support import objective


@pytest.fixture(scope="session")
def stored_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """``(storage URL, study name)``: 6 trials, 2 objectives, a constraint; ARSSampler's model
    proposes the last one."""
    path = Path(tmp_path_factory.mktemp("stored")) / "study.db"
    storage = f"sqlite:///{path}"
    study = optuna.create_study(
        storage=storage,
        study_name="tiny",
        directions=["minimize", "minimize"],
        sampler=ARSSampler(seed=0, **SMALL | {"n_startup_trials": 5}),
    )
    study.set_metric_names(["error", "loss"])
    study.optimize(objective, n_trials=6)
    return storage, "tiny"
