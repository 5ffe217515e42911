"""``optuna-ars`` on a plain install: help and the sampler-only commands work without the
optional extras; a command that needs one names it."""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
import sys

from studies.__main__ import EXTRAS

ROOT = Path(__file__).resolve().parents[2]


def _without_extras(*argv: str) -> subprocess.CompletedProcess[str]:
    """``python -m studies ARGV`` with every module of the optional extras unimportable."""
    code = (
        "import sys\n"
        f"for name in {sorted(EXTRAS)!r}:\n"
        "    sys.modules[name] = None  # import raises ModuleNotFoundError\n"
        "from studies.__main__ import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_help_works_without_extras() -> None:
    done = _without_extras("--help")
    assert done.returncode == 0, done.stderr
    for command in ("compress", "benchmark", "sweep", "report"):
        assert command in done.stdout
    for command in ("benchmark", "sweep", "report"):
        done = _without_extras(command, "--help")
        assert done.returncode == 0 and "usage:" in done.stdout, done.stderr


def test_a_command_needing_an_extra_names_it() -> None:
    done = _without_extras("compress", "--quick")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "compress needs the optional extra 'evaluators' (module onnx is not installed): "
            "pip install 'optuna-ars[evaluators]'"
        )
    )


def test_sampler_only_benchmark_runs_without_extras(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = _without_extras(
        "benchmark",
        *("--problems", "BraninCurrin", "--samplers", "random", "--seeds", "1"),
        *("--trials", "3", "--startup", "2", "--out", str(out)),
    )
    assert done.returncode == 0, done.stderr
    assert len(json.loads(out.read_text())["runs"]) == 1
    assert "plot skipped: matplotlib is not installed (pip install 'optuna-ars[studies]')" in (
        done.stdout
    )
