"""Issue 31, deliverable 6: bad input inside one study, forced outcomes on tiny data.

A finite but diverging loss, a one-sample dataset and empty splits each end as a FAIL trial
with a one-line ``fail_reason`` and the study goes on; the per-trial time limit holds across
the cross-validation folds and the stages after training (a fake clock, no timing)."""

from __future__ import annotations

from typing import Any

import optuna
from optuna.trial import TrialState
import pytest
import torch

from evaluators import objective as objective_module
from evaluators import train as train_module
from evaluators.data import Dataset
from evaluators.objective import make_objective
from evaluators.train import EvaluationError

optuna.logging.set_verbosity(optuna.logging.ERROR)


def _study() -> optuna.Study:
    return optuna.create_study(
        directions=["minimize"] * 4, sampler=optuna.samplers.RandomSampler(seed=0)
    )


def test_finite_diverging_loss_fails_the_trial(
    tiny: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = train_module.F.cross_entropy
    calls: list[int] = []

    def exploding(*args: Any, **kwargs: Any) -> torch.Tensor:
        calls.append(1)  # the first step's loss as is, then 1e4 times it: finite, diverged
        return real(*args, **kwargs) * (1.0 if len(calls) == 1 else 1e4)

    objective = make_objective(dataset=tiny, quick=True)
    study = _study()
    monkeypatch.setattr(train_module.F, "cross_entropy", exploding)
    study.optimize(objective, n_trials=1, catch=(EvaluationError,))
    monkeypatch.undo()
    study.optimize(objective, n_trials=1, catch=(EvaluationError,))
    failed, complete = study.trials
    assert failed.state == TrialState.FAIL and complete.state == TrialState.COMPLETE
    reason = failed.user_attrs["fail_reason"]
    assert reason.startswith("training loss diverged (") and "100x" in reason
    assert "nan" not in reason and "\n" not in reason
    assert len(calls) == 2  # stopped at the first diverged step


def _variant(tiny: Dataset, **splits: slice) -> Dataset:
    """``tiny`` with each named split (``train``, ``val``, ``test``) cut to ``splits[name]``."""
    fields = dict(vars(tiny))
    for split, part in splits.items():
        for axis in ("x", "y"):
            fields[f"{axis}_{split}"] = fields[f"{axis}_{split}"][part]
    return Dataset(**fields)


@pytest.mark.parametrize(
    ("splits", "reason"),
    [
        ({"train": slice(1), "val": slice(0)}, "needs >= 2 samples and >= 2 training samples"),
        ({"train": slice(0), "val": slice(0)}, "the training split has 0"),
        ({"test": slice(0)}, "the test split is empty"),
    ],
)
def test_unsplittable_data_fails_each_trial_and_the_study_goes_on(
    tiny: Dataset, splits: dict[str, slice], reason: str
) -> None:
    for folds in (1, 2):
        objective = make_objective(dataset=_variant(tiny, **splits), quick=True, folds=folds)
        study = _study()
        study.optimize(objective, n_trials=2, catch=(EvaluationError,))
        assert [t.state for t in study.trials] == [TrialState.FAIL] * 2
        for trial in study.trials:
            text = trial.user_attrs["fail_reason"]
            assert "\n" not in text
            assert (reason if folds == 2 or "test" in splits else "hold-out validation") in text


def test_time_limit_holds_across_folds_and_stages(
    tiny: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [0.0]
    monkeypatch.setattr(objective_module.time, "monotonic", lambda: clock[0])
    real = objective_module.quantize_int8
    calls: list[int] = []

    def slow_quantize(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        clock[0] += 100.0  # this stage took 100 s of the 50 s limit
        return real(*args, **kwargs)

    monkeypatch.setattr(objective_module, "quantize_int8", slow_quantize)
    objective = make_objective(dataset=tiny, quick=True, folds=2, time_limit=50.0)
    study = _study()
    study.optimize(objective, n_trials=1, catch=(EvaluationError,))
    (trial,) = study.trials
    assert trial.state == TrialState.FAIL
    assert trial.user_attrs["fail_reason"] == "time limit of 50 s exceeded after quantization"
    assert len(calls) == 1  # the first fold's: no second fold, no final fit
