from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from optuna_ars import ARSSampler
from tests.integration.support import SMALL
from tests.integration.support import objective


@pytest.fixture(scope="session")
def stored_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """``(storage URL, study name)`` of a 6-trial 2-objective constrained ARSSampler study."""
    path = Path(tmp_path_factory.mktemp("stored")) / "study.db"
    storage = f"sqlite:///{path}"
    study = optuna.create_study(
        storage=storage,
        study_name="tiny",
        directions=["minimize", "minimize"],
        sampler=ARSSampler(seed=0, **SMALL),
    )
    study.set_metric_names(["error", "loss"])
    study.optimize(objective, n_trials=6)
    return storage, "tiny"
