"""The Sec. 4.3 study: the objective and the study's output format (random sampler, fast)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from studies import passino


def test_passino_global_minimum_and_flat_corner() -> None:
    g = np.linspace(0, 30, 301)
    x, y = np.meshgrid(g, g)
    field = passino.passino(x, y)  # (301, 301)
    i = int(field.argmin())
    assert field.min() == pytest.approx(passino.GLOBAL_MIN, abs=1e-3)
    assert (x.flat[i], y.flat[i]) == pytest.approx((15.0, 5.0), abs=0.1)
    corner = field[(x <= 4) & (y >= 26)]
    assert np.abs(corner).max() < 1e-2  # the prior region is flat


def test_passino_study_writes_summary(tmp_path: Path) -> None:
    assert passino.main(["--samplers=random", "--seeds=2", "--no-plot", f"--out={tmp_path}"]) == 0
    result = json.loads((tmp_path / "passino.json").read_text())
    assert result["summary"]["random"]["seeds"] == 2
    for run in result["runs"]:
        assert len(run["best"]) == passino.N_PRIOR + passino.N_MORE
        assert run["best"] == sorted(run["best"], reverse=True)
        prior = np.array(run["points"][: passino.N_PRIOR])
        assert (prior[:, 0] <= 4).all() and (prior[:, 1] >= 26).all()
