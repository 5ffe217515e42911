from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
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


def _add_trials(study: optuna.Study, rows: list[tuple[tuple[float, float], float]]) -> None:
    """One complete trial per ``(values, constraint c0)``."""
    for values, slack in rows:
        study.add_trial(
            optuna.trial.create_trial(
                params={"x": 0.5},
                distributions={"x": FloatDistribution(0, 1)},
                values=list(values),
                system_attrs={"constraints:c0": slack},
            )
        )


def test_reference_point_and_names_follow_the_directions() -> None:
    study = optuna.create_study(directions=["minimize", "maximize"])
    _add_trials(study, [((1.0, 10.0), -1.0), ((3.0, 30.0), -1.0), ((100.0, -100.0), 1.0)])
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


def _png_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` in pixels, from the PNG's IHDR chunk."""
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


NAMES = ["1 - val accuracy (int8)", "flash bytes", "SRAM bytes", "FLOPs"]


def _compress_like_study(n_params: int = 27) -> optuna.Study:
    """Four objectives named as ``studies compress`` names them, the user attrs its objective
    writes (flash_bytes, sram_bytes and flops repeat values), its limits as the box; trial 1
    is at chance level (0.25 on 4 classes), trial 3 over the flash limit."""
    study = optuna.create_study(study_name="bm", directions=["minimize"] * 4)
    study.set_metric_names(NAMES)
    study.set_user_attr("reference_point", [1.0, 1e6, 262144.0, 1e9])
    study.set_user_attr("ideal_point", [0.0, 0.0, 0.0, 0.0])
    study.set_user_attr(report.CHANCE_ATTR, 0.25)
    dist = {f"sparsity:block{i}": FloatDistribution(0, 1) for i in range(n_params)}
    rng = np.random.default_rng(0)
    for number in range(12):
        acc = [0.75, 0.25, 0.5][number % 3] + 0.01 * number * (number % 3 != 1)
        flash, sram, flops = 400_000 - 20_000 * number, 30_000 + 500 * number, 2e6 * (12 - number)
        if number == 3:
            flash = 1_163_125
        attrs = {
            "val_accuracy_int8": acc,
            "test_accuracy_int8": acc - 0.05,
            "val_accuracy_float": acc,
            "test_accuracy_float": acc - 0.04,
            "flash_bytes": flash,
            "weight_bytes": flash - 3000,
            "graph_bytes": 3000,
            "onnx_file_bytes": flash + 900,
            "sram_bytes": sram,
            "arena_bytes": sram - 12_000,
            "persistent_bytes": 12_000,
            "flops": flops,
            "params": 12_345,
            "final_loss": 0.123456,
            "epochs_trained": 20,
            "seconds_train": 12.5,
            "artifact_id": "0c1d5c4e-8f7a-4d52-9d1e-6b0f3f4b2a11",
        }
        study.add_trial(
            optuna.trial.create_trial(
                params={k: float(v) for k, v in zip(dist, rng.random(n_params), strict=True)},
                distributions=dist,
                values=[1.0 - acc, flash, sram, flops],
                user_attrs=attrs,
                system_attrs={"constraints:flash": flash - 1e6, "constraints:sram": -1.0},
            )
        )
    return study


def test_table_is_readable_and_leaves_out_chance_level_networks() -> None:
    table = report.pareto_table(_compress_like_study())
    lines = table.splitlines()
    assert all(len(line) <= report.TABLE_WIDTH for line in lines), max(map(len, lines))
    header = lines[1]
    for name in NAMES:
        assert header.count(name) == 1
    for repeated in ("flash_bytes", "sram_bytes", "flops"):  # the values already show them
        assert repeated not in header
    assert header.split()[-1] != "artifact_id" and "test_accuracy_int8" in header
    assert lines[-1].startswith("4 networks at chance level not shown (val accuracy <= 0.250")
    rows = [line.split()[0] for line in lines[2:] if line.startswith(" ")]  # right-aligned
    assert rows and not {"1", "4", "7", "10"} & set(rows)  # the chance-level trials
    assert "3" not in rows  # infeasible


def test_plots_fit_on_one_screen(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="PNG plots need matplotlib")
    study = _compress_like_study(n_params=40)
    lines = report.write_plots(study, tmp_path, dashboard=False)
    for plot in ("param_importances", "hypervolume_history"):
        width, height = _png_size(tmp_path / f"{plot}.png")
        assert 300 <= width <= 1600 and 300 <= height <= 1600, (plot, width, height)
    assert (
        "hypervolume normalised by the box from the ideal point stored with the study "
        "(0, 0, 0, 0) to the reference point"
    ) in lines


def test_hypervolume_history_is_normalised_by_the_box() -> None:
    study = optuna.create_study(directions=["minimize", "maximize"])
    study.set_user_attr("reference_point", [2.0, 0.0])
    study.set_user_attr("ideal_point", [0.0, 4.0])
    _add_trials(study, [((1.0, 2.0), -1.0), ((0.0, 4.0), 1.0), ((0.5, 1.0), -1.0)])
    box = report.hypervolume_box(study)
    assert box is not None and box.ideal == [0.0, 4.0]
    numbers, history = report.hypervolume_history(study, box)
    # In the unit box: (0.5, 0.5) -> 0.25; the infeasible ideal point adds nothing;
    # (0.25, 0.75) adds 0.25 * 0.25.
    assert numbers == [0, 1, 2] and history == pytest.approx([0.25, 0.25, 0.3125])
    assert "box\nfrom the ideal point stored with the study" in box.axis_label


def test_dashboard_graph_follows_the_study(stored_study: tuple[str, str], tmp_path: Path) -> None:
    pytest.importorskip("plotly", reason="the dashboard graph needs plotly")
    storage, name = stored_study
    study = optuna.load_study(study_name=name, storage=storage)
    from tests.studies.wsgi_client import study_detail

    def title() -> str:
        detail = study_detail(optuna_dashboard.wsgi(storage), name)
        (graph,) = detail["plotly_graph_objects"]
        return json.loads(graph["graph_object"])["layout"]["title"]["text"]

    report.save_dashboard_graph(study)
    assert f"{len(study.trials)} complete trials, up to trial {len(study.trials) - 1}" in title()


def test_compress_front_leaves_out_chance_level_networks() -> None:
    pytest.importorskip("onnx", reason="studies.compress imports the evaluators")
    from studies import compress

    study = _compress_like_study()
    table = compress.front_table(study)
    lines = table.splitlines()
    shown = [line.split()[0] for line in lines[2:] if line.startswith(" ")]
    assert shown and not {"1", "4", "7", "10"} & set(shown) and "3" not in shown
    assert f"feasible Pareto front ({len(shown)} trials):" in lines[0]
    assert lines[-1] == (
        "4 networks at chance level not shown (val accuracy <= 0.250, the training split's "
        "majority-class rate)"
    )
    study.set_user_attr(report.CHANCE_ATTR, None)  # a study from before: all shown
    assert "at chance level" not in compress.front_table(study)
