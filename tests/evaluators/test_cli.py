"""``python -m studies compress`` on a temporary SQLite storage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pytest

from optuna_ars import named_constraints
from studies import compress
from studies.__main__ import main
from tests.integration.support import gather_workers


def test_compress_quick_ars_two_trials(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    storage = f"sqlite:///{tmp_path / 'x.db'}"
    argv = ["compress", "--quick", "--trials", "2", "--storage", storage, "--study-name", "s"]
    argv += ["--artifact-dir", str(tmp_path / "models")]
    assert main([*argv, "--sampler", "ars", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "feasible Pareto front" in out and "flash KB" in out
    assert f"optuna-dashboard {storage} --artifact-dir {tmp_path / 'models'}" in out
    assert len(list((tmp_path / "models").iterdir())) == 2  # one int8 ONNX per trial
    study = optuna.load_study(study_name="s", storage=storage)
    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(complete) == 2
    for trial in complete:
        assert len(trial.values) == 4
        assert set(named_constraints(trial)) == {"flash", "sram", "flops"}
        assert len(trial.system_attrs["constraints"]) == 3  # the list optuna-dashboard reads
    assert main([*argv, "--trials", "1", "--no-progress"]) == 0  # resumes the same study
    assert len(optuna.load_study(study_name="s", storage=storage).trials) == 3


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ([], [1.0, 500_000.0, 65_536.0, 2e8]),  # the limits: the box of deployable networks
        (["--reference", "observed"], None),  # ARSSampler's own, from the observed fronts
    ],
)
def test_ars_measures_hypervolume_from_the_limits(
    extra: list[str], expected: list[float] | None, tmp_path: Path
) -> None:
    storage = f"sqlite:///{tmp_path / 'x.db'}"
    argv = ["compress", "--quick", "--trials", "3", "--startup-trials", "2", "--no-artifacts"]
    argv += ["--flash-limit", "500000", "--sram-limit", "65536", "--flops-limit", "2e8"]
    assert main([*argv, "--storage", storage, "--study-name", "r", "--no-progress", *extra]) == 0
    study = optuna.load_study(study_name="r", storage=storage)
    assert study.user_attrs["reference_point"] == [1.0, 500_000.0, 65_536.0, 2e8]  # the report's
    (modelled,) = [t for t in study.trials if "ars:policy" in t.user_attrs]
    reference = modelled.user_attrs["ars:reference_point"]
    if expected is not None:
        assert reference == pytest.approx(expected)
    else:  # a front's nadir of the two observed networks plus 10 % of their range
        earlier = np.array([t.values for t in study.trials[:2]])  # (2, 4)
        # An objective at one value v for both (two networks at chance: same error) has no
        # range: its margin is 10 % of |v| (of 1 for v = 0), whatever the networks learned.
        size = np.where(earlier.min(0) != 0, np.abs(earlier.min(0)), 1.0)
        margin = 0.1 * np.where(np.ptp(earlier, 0) > 0, np.ptp(earlier, 0), size)
        assert (np.array(reference) >= earlier.min(0) + margin * (1 - 1e-5)).all()
        assert (np.array(reference) <= earlier.max(0) + margin * (1 + 1e-5)).all()


def test_compress_two_workers_share_the_study(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each trial waits until both workers have begun one: otherwise a worker that the OS
    # leaves idle for two trials' time would find the study done and run none.
    gather_workers(monkeypatch, compress, tmp_path / "gather")
    storage = f"sqlite:///{tmp_path / 'x.db'}"
    argv = ["compress", "--quick", "--trials", "3", "--workers", "2", "--storage", storage]
    argv += ["--startup-trials", "1"]  # the third trial starts after one is complete
    assert main([*argv, "--study-name", "w", "--no-artifacts"]) == 0
    assert "3 complete" in capsys.readouterr().out
    trials = optuna.load_study(study_name="w", storage=storage).trials
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 3
    assert {t.user_attrs["worker"] for t in complete} == {0, 1}  # both processes ran trials
    assert len({tuple(sorted(t.params.items())) for t in complete}) == 3
    # The workers' ARSSamplers measure hypervolume from the default limits too.
    modelled = [t for t in complete if "ars:policy" in t.user_attrs]
    assert modelled
    for t in modelled:
        assert t.user_attrs["ars:reference_point"] == pytest.approx([1.0, 1e6, 262_144.0, 1e9])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["compress", "--trials", "0"], "must be a positive integer"),
        (["compress", "--workers", "0"], "must be a positive integer"),
        (["compress", "--sampler", "nope"], "invalid choice"),
        (["compress", "--dataset", "NoSuchSet"], "not bundled"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    storage = ["--storage", f"sqlite:///{tmp_path / 'x.db'}"] if argv[0] == "compress" else []
    with pytest.raises(SystemExit) as exc:
        main([*argv, *storage])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bench_evaluator_one_trial(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from studies.bench_evaluator import main as bench_main

    out = tmp_path / "bench.json"
    argv = ["--trials", "1", "--epoch-scale", "0.01", "--folds", "2", "--min-steps", "0"]
    assert bench_main([*argv, "--out", str(out)]) == 0
    assert "| quantize |" in capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["complete"] == 1 and 0 < result["non_training_share"] < 1
