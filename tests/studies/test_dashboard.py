"""optuna-dashboard's WSGI app serves a study this test made, with ARSSampler's user attrs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import optuna
import optuna_dashboard
import pytest
import torch

from evaluators import objective as objective_module
from evaluators.measure import Footprint
from evaluators.objective import OBJECTIVE_NAMES
from evaluators.objective import Evaluation
from evaluators.quantize import QuantizedModel
from evaluators.train import TrainResult
from optuna_ars import ARSSampler
from studies import compress
from tests.integration.support import SMALL
from tests.integration.support import objective
from tests.studies.wsgi_client import get_json
from tests.studies.wsgi_client import study_detail


@pytest.fixture(scope="module")
def app(stored_study: tuple[str, str]) -> Any:
    return optuna_dashboard.wsgi(stored_study[0])


def test_dashboard_serves_the_study_and_its_trial_attrs(app: Any) -> None:
    detail = study_detail(app, "tiny")
    assert detail["name"] == "tiny"
    assert detail["directions"] == ["minimize", "minimize"]
    trials = detail["trials"]
    assert [t["number"] for t in trials] == list(range(6))
    attrs = [{a["key"]: a["value"] for a in t["user_attrs"]} for t in trials]
    assert all("flash_bytes" in a for a in attrs)
    assert any("ars:policy" in a and "ars:predicted_values" in a for a in attrs)


def test_dashboard_unknown_study_is_404(app: Any) -> None:
    status, _ = get_json(app, "/api/studies/999")
    assert status.startswith("404")


def test_dashboard_marks_the_infeasible_trials_of_an_ars_study(tmp_path: Path) -> None:
    """optuna-dashboard 0.21 reads the list-form constraints only; ARSSampler writes it."""
    storage = f"sqlite:///{tmp_path / 'c.db'}"
    study = optuna.create_study(
        storage=storage,
        study_name="c",
        directions=["minimize", "minimize"],
        sampler=ARSSampler(seed=0, **SMALL | {"n_startup_trials": 2}),
    )
    study.enqueue_trial({"x": 0.9, "y": 1.9})  # c0 = x + y - 2.5 = 0.3 > 0: infeasible
    study.enqueue_trial({"x": 0.1, "y": 0.2})  # c0 = -2.2: feasible
    study.optimize(objective, n_trials=3)  # the third from the model
    detail = study_detail(optuna_dashboard.wsgi(storage), "c")
    constraints = {t["number"]: t["constraints"] for t in detail["trials"]}
    assert constraints[0] == [pytest.approx(0.3)] and constraints[1] == [pytest.approx(-2.2)]
    assert len(constraints[2]) == 1
    # The dashboard's rule (its bundle.js): infeasible when some constraint is > 0.
    infeasible = {n for n, c in constraints.items() if any(v > 0 for v in c)}
    assert infeasible == {n for n, c in constraints.items() if c[0] > 0} and 0 in infeasible


def _fake_evaluation(number: int, workdir: Path) -> Evaluation:
    """What :func:`evaluators.objective.evaluate` returns, without training: trial 0 over the
    1 MB flash limit, trial 1 at chance level (0.25 on 4 classes)."""
    (workdir / "int8.onnx").write_bytes(b"not really onnx")
    flash = [1_163_125, 400_000, 300_000, 350_000][number]
    val = [0.75, 0.25, 0.5, 0.625][number]
    return Evaluation(
        train=TrainResult(
            model=torch.nn.Identity(),
            val_accuracy=val,
            test_accuracy=val,
            final_loss=0.5,
            pruning_steps=(1,),
            sgd_steps=2,
            seconds=1.0,
            prune_seconds=0.1,
        ),
        quantized=QuantizedModel(
            path=workdir / "int8.onnx",
            val_accuracy=val,
            test_accuracy=val - 0.05,
            float_ops=(),
            seconds=0.1,
        ),
        footprint=Footprint(
            flops=1_000_000 * (number + 1),
            params=1000,
            flash_bytes=flash,
            weight_bytes=flash - 1000,
            graph_bytes=1000,
            file_bytes=flash + 500,
            sram_bytes=20_000 + number,
            arena_bytes=8_000,
            persistent_bytes=12_000 + number,
        ),
        onnx_path=workdir / "int8.onnx",
        seconds={"train": 1.0},
    )


def test_a_compress_study_shows_what_the_readme_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """README, "optuna-dashboard": the study page names the objectives, draws the trials over
    a limit as infeasible (from the list-form constraints) and has the hypervolume graph of
    every trial so far; each trial page shows the four values, ``over_limits``, ARSSampler's
    decisions, the accuracies, flash, SRAM and FLOPs, and its int8 ONNX model."""
    pytest.importorskip("aeon", reason="the compress study loads BasicMotions")
    storage = f"sqlite:///{tmp_path / 'optuna_ars.db'}"
    parser = argparse.ArgumentParser()
    compress.add_arguments(parser)
    args = parser.parse_args(
        [
            *("--quick", "--storage", storage, "--study-name", "bm", "--startup-trials", "3"),
            *("--artifact-dir", str(tmp_path / "artifacts"), "--trials", "4"),
        ]
    )
    study, obj = compress.prepare(args)
    study.sampler = ARSSampler(seed=0, **SMALL | {"n_startup_trials": 3})  # a cheaper ARS
    numbers = iter(range(4))
    monkeypatch.setattr(
        objective_module,
        "evaluate",
        lambda *a, workdir, **k: _fake_evaluation(next(numbers), workdir),
    )
    # The fake model file is no ONNX: its deployment spec (input scale) is stubbed too.
    monkeypatch.setattr(objective_module, "deployment_info", lambda *a, **k: {"classes": []})
    compress.run(study, obj, trials=args.trials, progress=False)
    out = capsys.readouterr()
    assert "1 network at chance level not shown (val accuracy <= 0.250" in out.out
    assert "fitting the surrogate (7 GPs) on 3 trials, from scratch" in out.err

    detail = study_detail(optuna_dashboard.wsgi(storage), "bm")
    assert detail["objective_names"] == list(OBJECTIVE_NAMES)
    assert [g["id"] for g in detail["plotly_graph_objects"]] == ["hypervolume"]
    graph = json.loads(detail["plotly_graph_objects"][0]["graph_object"])
    assert "4 complete trials, up to trial 3" in graph["layout"]["title"]["text"]
    trials = detail["trials"]
    assert [t["state"] for t in trials] == ["Complete"] * 4
    for t in trials:
        assert len(t["values"]) == 4
        assert len(t["constraints"]) == 3  # flash, flops, sram (key order)
        attrs = {a["key"]: a["value"] for a in t["user_attrs"]}
        for key in ("val_accuracy_int8", "test_accuracy_int8", "flash_bytes", "sram_bytes"):
            assert key in attrs
        assert "flops" in attrs
        assert len(t["artifacts"]) == 1  # the int8 model, to download
    assert trials[0]["constraints"][0] == 1_163_125 - 1_000_000  # over the flash limit
    assert [any(c > 0 for c in t["constraints"]) for t in trials] == [True, False, False, False]
    over = [{a["key"]: a["value"] for a in t["user_attrs"]}["over_limits"] for t in trials]
    assert over == ['["flash"]', "[]", "[]", "[]"]  # what the trial page shows
    decided = {a["key"] for a in trials[3]["user_attrs"]}  # the model's proposal
    assert {"ars:policy", "ars:predicted_values", "ars:reward", "ars:seconds"} <= decided
    assert study.metric_names == list(OBJECTIVE_NAMES)


def test_metric_names_are_set_on_resume_when_missing(tmp_path: Path) -> None:
    pytest.importorskip("aeon", reason="the compress study loads BasicMotions")
    storage = f"sqlite:///{tmp_path / 'old.db'}"
    optuna.create_study(storage=storage, study_name="old", directions=["minimize"] * 4)
    parser = argparse.ArgumentParser()
    compress.add_arguments(parser)
    args = parser.parse_args(["--quick", "--storage", storage, "--study-name", "old"])
    args.no_artifacts = True
    study, _ = compress.prepare(args)
    assert study.metric_names == list(OBJECTIVE_NAMES)
    detail = study_detail(optuna_dashboard.wsgi(storage), "old")
    assert detail["objective_names"] == list(OBJECTIVE_NAMES)
