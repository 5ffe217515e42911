from __future__ import annotations

import argparse
from pathlib import Path

import optuna
from optuna.distributions import FloatDistribution
import optuna_dashboard
import pytest

from studies import report


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    report.add_arguments(parser)
    return report.run(parser.parse_args(argv))


def test_report_prints_the_front_and_writes_plots(
    stored_study: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib", reason="PNG plots need matplotlib")
    pytest.importorskip("plotly", reason="the dashboard graph needs plotly")
    storage, name = stored_study
    assert _run("--storage", storage, "--study-name", name, "--out", str(tmp_path)) == 0
    out = capsys.readouterr().out
    assert f"study '{name}': 6 trials, 6 complete" in out
    header = next(line for line in out.splitlines() if line.lstrip().startswith("trial"))
    assert header.split() == ["trial", "error", "loss", "flash_bytes"]
    for plot in ("pareto_front", "hypervolume_history", "param_importances"):
        assert (tmp_path / f"{plot}.png").read_bytes().startswith(b"\x89PNG"), plot
    assert "hypervolume reference point: " in out
    # The dashboard now shows the hypervolume history saved into the study.
    from tests.studies.wsgi_client import study_detail

    detail = study_detail(optuna_dashboard.wsgi(storage), name)
    assert [g["id"] for g in detail["plotly_graph_objects"]] == ["hypervolume"]


def test_report_defaults_to_the_only_study(
    stored_study: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("--storage", stored_study[0], "--no-plots") == 0
    assert "feasible Pareto front" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--study-name", "nope"], "no study 'nope' in"),
        (["--storage", "sqlite:///no/such.db"], "no storage file"),
        (["--storage", "oracle://x"], "unsupported storage 'oracle://x'"),
    ],
)
def test_report_errors_are_one_line_and_exit_2(
    stored_study: tuple[str, str],
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = argv if "--storage" in argv else ["--storage", stored_study[0], *argv]
    assert _run(*args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"error: {message}") and captured.err.count("\n") == 1


def test_reference_point_and_names_follow_the_directions() -> None:
    study = optuna.create_study(directions=["minimize", "maximize"])
    dist = {"x": FloatDistribution(0, 1)}
    for values, slack in [((1.0, 10.0), -1.0), ((3.0, 30.0), -1.0), ((100.0, -100.0), 1.0)]:
        study.add_trial(
            optuna.trial.create_trial(
                params={"x": 0.5},
                distributions=dist,
                values=list(values),
                system_attrs={"constraints:c0": slack},
            )
        )
    # Feasible ranges: [1, 3] (minimised) and [10, 30] (maximised); the infeasible trial
    # is left out.
    assert report.reference_point(study) == pytest.approx([3.2, 8.0])
    table = report.pareto_table(study)
    assert "3 trials, 3 complete, 2 feasible; feasible Pareto front: 2 trials" in table
    assert table.splitlines()[1].split() == ["trial", "v0", "v1"]


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ([5.0, -2.0], [5.0, -2.0]),  # one finite value per objective: taken as it is
        ([5.0], [3.2, 8.0]),  # wrong length: derived from the data
        ([5.0, "x"], [3.2, 8.0]),  # not numbers: derived
    ],
)
def test_stored_reference_point_is_used_when_well_formed(
    stored: list[object], expected: list[float]
) -> None:
    study = optuna.create_study(directions=["minimize", "maximize"])
    dist = {"x": FloatDistribution(0, 1)}
    for values in [(1.0, 10.0), (3.0, 30.0)]:
        study.add_trial(
            optuna.trial.create_trial(params={"x": 0.5}, distributions=dist, values=list(values))
        )
    study.set_user_attr("reference_point", stored)
    assert report.reference_point(study) == pytest.approx(expected)
