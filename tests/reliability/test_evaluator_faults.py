"""Issue 6, case 12: evaluator faults inside one study.

Setup: the compress objective on a tiny random dataset (2 epochs, quick), ARSSampler, one
study. Faults, one per trial: out of memory in training, a per-trial time limit passed, a NaN
loss, an ONNX export failure, a full disk when storing the model. Expected: each of those
trials ends FAIL with its ``fail_reason`` user attr, the out-of-memory trial's model is freed,
and the next trial still completes.
"""

from __future__ import annotations

from collections.abc import Callable
import gc
from pathlib import Path
import time
from typing import Any
import weakref

import optuna
from optuna.trial import TrialState
import pytest
import torch

from evaluators import objective as objective_module
from evaluators import train as train_module
from evaluators.data import Dataset
from evaluators.objective import make_objective
from evaluators.train import EvaluationError
from optuna_ars import ARSSampler

optuna.logging.set_verbosity(optuna.logging.ERROR)


def test_each_evaluator_fault_fails_its_trial_and_the_study_goes_on(
    tiny: Dataset, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    objective = make_objective(dataset=tiny, quick=True, artifact_store=None)
    study = optuna.create_study(
        directions=list(objective.directions),
        sampler=ARSSampler(
            seed=0, n_startup_trials=4, n_directions=16, n_iterations=2, n_qmc_samples=8, hidden=8
        ),
    )
    real_train = objective_module.train_and_prune
    real_step = train_module.F.cross_entropy
    models: list[weakref.ref[torch.nn.Module]] = []

    def out_of_memory(model: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        models.append(weakref.ref(model))
        model.hog = torch.zeros(1 << 22)  # type: ignore[assignment]  # 16 MB to release
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    def nan_data(model: torch.nn.Module, data: Dataset, *args: Any, **kwargs: Any) -> Any:
        poisoned = torch.full_like(data.x_train, float("nan"))
        bad = Dataset(**{**vars(data), "x_train": poisoned})
        return real_train(model, bad, *args, **kwargs)

    steps: list[int] = []

    def slow_step(*args: Any, **kwargs: Any) -> Any:
        steps.append(1)
        time.sleep(0.35)  # one step passes the 0.3 s limit
        return real_step(*args, **kwargs)

    def export_crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("exporter crashed: unsupported operator aten::frobnicate")

    def disk_full(*args: Any, **kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    faults: dict[str, Callable[[], None]] = {
        "out of memory": lambda: monkeypatch.setattr(
            objective_module, "train_and_prune", out_of_memory
        ),
        "time limit of 0.3 s exceeded in training epoch": lambda: (
            monkeypatch.setattr(objective, "time_limit", 0.3),
            monkeypatch.setattr(train_module.F, "cross_entropy", slow_step),
        ),
        "training loss diverged (nan)": lambda: monkeypatch.setattr(
            objective_module, "train_and_prune", nan_data
        ),
        "ONNX export failed: RuntimeError: exporter crashed": lambda: monkeypatch.setattr(
            "evaluators.export.torch.onnx.export", export_crash
        ),
        "storing the int8 model failed: OSError": lambda: (
            monkeypatch.setattr(objective, "out_dir", tmp_path / "models"),
            monkeypatch.setattr(objective_module.shutil, "copyfile", disk_full),
        ),
    }
    for reason, inject in faults.items():
        inject()
        study.optimize(objective, n_trials=1, catch=(EvaluationError,))
        monkeypatch.undo()
        trial = study.trials[-1]
        assert trial.state == TrialState.FAIL, reason
        assert reason in trial.user_attrs["fail_reason"]
        assert "\n" not in trial.user_attrs["fail_reason"]
    gc.collect()
    assert models and models[0]() is None  # the out-of-memory trial's model was released
    # The first fit has 2 epochs of one batch: a limit checked only between epochs or fits
    # would let the second step run; checked after every step, training stops after one.
    assert len(steps) == 1
    study.optimize(objective, n_trials=1, catch=(EvaluationError,))  # no fault: it completes
    assert study.trials[-1].state == TrialState.COMPLETE
    assert len(study.trials) == len(faults) + 1


def test_bad_time_limit_is_rejected_by_name(tiny: Dataset) -> None:
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="time_limit="):
            make_objective(dataset=tiny, quick=True, time_limit=bad)
