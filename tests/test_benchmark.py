"""Smoke run of the sampler benchmark: a few trials of two samplers, output format checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studies import benchmark


def test_benchmark_smoke_writes_table_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    ars = json.dumps({"n_directions": 16, "n_iterations": 2, "hidden": 8, "n_qmc_samples": 8})
    code = benchmark.main(
        [
            "--problems=BraninCurrin,ConstrainedBraninCurrin",
            "--samplers=ars,random",
            "--seeds=2",
            "--trials=6",
            "--startup=3",
            f"--ars={ars}",
            f"--out={out}",
        ]
    )
    assert code == 0
    result = json.loads(out.read_text())
    assert len(result["runs"]) == 2 * 2 * 2
    for run in result["runs"]:
        assert len(run["hv"]) == len(run["seconds"]) == 6
        assert all(0.0 <= hv <= 1.0 for hv in run["hv"])
        assert run["hv"] == sorted(run["hv"])  # hypervolume never decreases
    assert {(r["problem"], r["sampler"]) for r in result["summary"]} == {
        (p, s) for p in ("BraninCurrin", "ConstrainedBraninCurrin") for s in ("ars", "random")
    }
    assert set(result["mean_rank"]) == {"ars", "random"}
    assert sum(result["mean_rank"].values()) == pytest.approx(3.0)  # ranks 1 and 2 per problem
    table = capsys.readouterr().out
    assert "HV@6 med [min, max]" in table and "mean rank" in table


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("--problems=Nope", "unknown problem 'Nope'"),
        ("--samplers=ars,cmaes", "'cmaes'"),
        ("--ars={bad", "--ars '{bad'"),
        ('--ars={"horizon": 0}', "horizon must be an integer >= 1"),
        ('--ars={"colour": 1}', "colour"),
    ],
)
def test_benchmark_rejects_unknown_names(
    flag: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        benchmark.main([flag])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
