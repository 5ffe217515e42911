"""studies.figures: the docs' PNGs from benchmark JSON files."""

from __future__ import annotations

import json
from pathlib import Path
import struct

import pytest

from studies import figures

pytest.importorskip("matplotlib", reason="the figures need matplotlib")


def _png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's header; fails on anything that is not a PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", path
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _runs(problem: str, sampler: str, scale: float, n: int = 30) -> list[dict[str, object]]:
    return [
        {
            "problem": problem,
            "sampler": sampler,
            "seed": seed,
            "hv": [scale * (1 + 0.1 * seed) * (i + 1) / n for i in range(n)],
            "seconds": [0.5 * scale * (1 + seed + i / n) for i in range(n)],
        }
        for seed in range(3)
    ]


def _write(path: Path, runs: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps({"runs": runs}))
    return path


def test_figures_write_both_pngs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = [
        *_runs("BraninCurrin", "ars", 0.9),
        *_runs("BraninCurrin", "gp", 0.8),
        *_runs("BraninCurrin", "random", 0.2),
        *_runs("DiscBrake", "ars", 10.0),
        *_runs("DiscBrake", "gp", 11.0, n=20),  # a shorter cell is drawn as far as it goes
    ]
    a = _write(tmp_path / "a.json", runs[:9])
    b = _write(tmp_path / "b.json", runs[6:])  # random's runs in both files: counted once
    out = tmp_path / "img"
    assert figures.main([str(a), str(b), f"--out={out}"]) == 0
    for name in ("suite_hv.png", "suite_seconds.png"):
        width, height = _png_size(out / name)
        assert 700 <= width <= 2000 and 300 <= height <= 1500, (name, width, height)
    assert "15 runs" in capsys.readouterr().out


def test_hv_label_names_the_unit() -> None:
    assert figures.hv_label("BraninCurrin") == "hypervolume / max"
    assert figures.hv_label("DiscBrake") == "hypervolume (problem's units)"  # no known max
    assert figures.hv_label("NotAProblem") == "hypervolume"


def test_figures_bad_input_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(SystemExit) as exit_info:
        figures.main([str(missing), f"--out={tmp_path}"])
    assert exit_info.value.code == 2
    assert str(missing) in capsys.readouterr().err
    only_random = _write(tmp_path / "random.json", _runs("BraninCurrin", "random", 0.2))
    with pytest.raises(SystemExit):
        figures.main([str(only_random), f"--out={tmp_path}"])
    assert "no runs of ars, gp, botorch, botorch-parego" in capsys.readouterr().err
