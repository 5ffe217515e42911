"""studies.targets: merged benchmark files, complete cells, mean ranks and wins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from studies import targets

# Final median HV per (problem, sampler): ars first on P1, second on P2 and P3.
_FINAL = {
    ("P1", "ars"): 0.9, ("P1", "gp"): 0.8, ("P1", "botorch-parego"): 0.7,
    ("P2", "ars"): 0.5, ("P2", "gp"): 0.6, ("P2", "botorch-parego"): 0.4,
    ("P3", "ars"): 0.3, ("P3", "gp"): 0.2, ("P3", "botorch-parego"): 0.35,
}  # fmt: skip


def _run(problem: str, sampler: str, seed: int, final: float, n: int = 100) -> dict[str, Any]:
    top = final + 0.01 * (seed - 2)  # the median over seeds 0-4 is ``final``
    hv = [top * (i + 1) / n for i in range(n)]
    return {"problem": problem, "sampler": sampler, "seed": seed, "hv": hv, "seconds": [1.0] * n}


def _write(path: Path, runs: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"runs": runs}))
    return path


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    runs = [_run(p, s, seed, v) for (p, s), v in _FINAL.items() for seed in range(5)]
    ours = [r for r in runs if r["sampler"] != "botorch-parego"]
    peers = [r for r in runs if r["sampler"] == "botorch-parego"]
    peers.append(ours[0])  # the same run in both files is counted once
    peers.append({**ours[1], "hv": ours[1]["hv"][:40]})  # its first 40 trials: the longer kept
    peers += [_run("P1", "random", seed, 0.1) for seed in range(2)]  # 2 seeds: left out
    return [_write(tmp_path / "a.json", ours), _write(tmp_path / "b.json", peers)]


def test_targets_merge_rank_and_count_wins(
    files: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "targets.json"
    assert targets.main([*map(str, files), "--checkpoints=50,100", f"--out={out}"]) == 0
    result = json.loads(out.read_text())
    assert len(result["rows"]) == 9 and result["incomplete"] == [["P1", "random"]]
    final = result["checkpoints"]["hv@100"]
    assert final["mean_rank"] == pytest.approx({"ars": 5 / 3, "gp": 2.0, "botorch-parego": 7 / 3})
    assert final["wins"]["botorch-parego"] == {"ahead": ["P1", "P2"], "problems": 3}
    assert final["wins"]["gp"] == {"ahead": ["P1", "P3"], "problems": 3}
    row = next(r for r in result["rows"] if (r["problem"], r["sampler"]) == ("P1", "ars"))
    assert row["hv@50"] == pytest.approx([0.45, 0.44, 0.46])  # median, min, max at trial 50
    text = capsys.readouterr().out
    assert "| P1 | ars | **0.450** [0.440, 0.460] | **0.900** [0.880, 0.920] |" in text
    assert "ars above botorch-parego on 2 of 3" in text


def test_targets_missing_cell_ranked_on_common_problems_and_bounded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = [
        _run(p, s, seed, v)
        for (p, s), v in _FINAL.items()
        for seed in range(5)
        if (p, s) != ("P3", "botorch-parego")  # too long to finish
    ]
    out = tmp_path / "targets.json"
    assert targets.main([str(_write(tmp_path / "a.json", runs)), f"--out={out}"]) == 0
    result = json.loads(out.read_text())
    assert result["missing"] == [["P3", "botorch-parego"]]
    assert result["common_problems"] == ["P1", "P2"]
    final = result["checkpoints"]["hv@100"]
    assert final["mean_rank"] == pytest.approx({"ars": 1.5, "gp": 1.5, "botorch-parego": 3.0})
    # On P3 (ars 0.3, gp 0.2) the missing median goes below gp, between, or above ars.
    bounds = final["rank_bounds"]
    expected = {"ars": [4 / 3, 5 / 3], "gp": [5 / 3, 2.0], "botorch-parego": [7 / 3, 3.0]}
    assert list(bounds["bounds"]) == list(expected)  # ordered by lower bound
    for name, span in expected.items():
        assert bounds["bounds"][name] == pytest.approx(span)
    assert (bounds["cases"], bounds["lowest_alone"], bounds["lowest_tied"]) == (3, 3, 0)
    assert "with the missing medians, 3 cases: mean rank ars 1.33-1.67" in capsys.readouterr().out


def test_targets_rank_bounds_count_ties_for_lowest() -> None:
    rows = [
        {"problem": "P1", "sampler": "a", "hv@9": (0.9, 0.9, 0.9)},
        {"problem": "P1", "sampler": "b", "hv@9": (0.8, 0.8, 0.8)},
        {"problem": "P2", "sampler": "b", "hv@9": (0.9, 0.9, 0.9)},
    ]
    found = targets.rank_bounds(rows, [("P2", "a")], "hv@9", sampler="a")
    # a below b on P2: 1.5 each (tied); above: a 1.0, b 2.0.
    assert found == {
        "bounds": {"a": [1.0, 1.5], "b": [1.5, 2.0]},
        "cases": 2,
        "lowest_alone": 1,
        "lowest_tied": 1,
        "floors": [],
    }


def test_targets_shorter_runs_give_exact_medians_then_floors(tmp_path: Path) -> None:
    runs = [
        _run(p, s, seed, v, n=50 if (p, s) == ("P3", "botorch-parego") else 100)
        for (p, s), v in _FINAL.items()
        for seed in range(5)
    ]  # P3's botorch-parego reaches 0.35 at trial 50; ars and gp 0.15 and 0.1 there
    out = tmp_path / "targets.json"
    targets.main([str(_write(tmp_path / "a.json", runs)), "--checkpoints=50,100", f"--out={out}"])
    result = json.loads(out.read_text())
    assert result["missing"] == [["P3", "botorch-parego"]]
    at50 = result["checkpoints"]["hv@50"]["rank_bounds"]
    assert at50["floors"] == [["P3", "botorch-parego", pytest.approx(0.35), True]]
    assert at50["cases"] == 1 and at50["bounds"]["botorch-parego"] == pytest.approx([7 / 3] * 2)
    # After 100 trials its median is at least 0.35, so above ars's 0.3 and gp's 0.2: first.
    at100 = result["checkpoints"]["hv@100"]["rank_bounds"]
    assert at100["floors"] == [["P3", "botorch-parego", pytest.approx(0.35), False]]
    assert at100["cases"] == 1 and at100["bounds"]["ars"] == pytest.approx([5 / 3] * 2)
    assert at100["bounds"]["gp"] == pytest.approx([2.0, 2.0])
    assert (at100["lowest_alone"], at100["lowest_tied"]) == (1, 0)


def test_targets_too_many_missing_cells_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 12 problems where only "a" ran beside 2 peers: 3 ** 12 > 100 000 placements of "b".
    runs = [_run(f"P{i}", s, seed, 0.5) for i in range(12) for s in "ac" for seed in range(5)]
    runs += [_run("Q", s, seed, 0.5) for s in "abc" for seed in range(5)]
    for r in runs:
        if r["sampler"] == "c":
            r["hv"] = [h / 2 for h in r["hv"]]
    with pytest.raises(SystemExit) as exc:
        targets.main([str(_write(tmp_path / "a.json", runs))])
    assert exc.value.code == 2 and "12 missing cells give 531441 cases" in capsys.readouterr().err


def test_targets_short_runs_are_incomplete() -> None:
    runs = [_run("P1", s, seed, 0.5, n=40) for s in ("ars", "gp") for seed in range(5)]
    result = targets.evaluate(runs, [25, 100], seeds=5, n_startup=10, sampler="ars")
    assert result["rows"] == [] and result["incomplete"] == [("P1", "ars"), ("P1", "gp")]


def test_targets_conflicting_runs_exit_2(
    files: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = _write(tmp_path / "c.json", [_run("P2", "gp", 3, 0.99)])
    with pytest.raises(SystemExit) as exc:
        targets.main([*map(str, files), str(other)])
    assert exc.value.code == 2
    assert "('P2', 'gp', 3) differs between" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--checkpoints=a,b"], "--checkpoints 'a,b'"),
        (["--checkpoints=0,10"], "--checkpoints '0,10'"),
    ],
)
def test_targets_bad_arguments_exit_2(
    files: list[Path], argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        targets.main([*map(str, files), *argv])
    assert exc.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("text", ["[1, 2]", '{"runs": [{"problem": "P1", "hv": [0.5]}]}'])
def test_targets_not_a_benchmark_file_exit_2(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(text)  # not an object with runs; a run without sampler and seed
    with pytest.raises(SystemExit) as exc:
        targets.main([str(bad)])
    assert (
        exc.value.code == 2 and f"{bad}: not a studies.benchmark JSON" in capsys.readouterr().err
    )
