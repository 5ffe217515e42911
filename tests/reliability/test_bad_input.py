"""Issue 6, case 13: bad user input where it enters — CLI flags, sampler arguments, dataset
paths, storage URLs.

Setup: a fresh storage path. Fault: one bad value. Expected: a one-line error naming the
value, a non-zero exit (2 for the CLI), no traceback, and nothing written to the study.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import subprocess
import sys

import optuna
import pytest

from optuna_ars import ARSSampler
from studies.__main__ import main
from studies.workers import make_storage
from studies.workers import run_workers

BAD_FLAGS = [
    (["--trials", "abc"], "argument --trials: must be a positive integer, got 'abc'"),
    (["--trials", "-3"], "-3"),
    (["--epoch-scale", "nan"], "nan"),
    (["--epoch-scale", "x"], "argument --epoch-scale: must be a positive number, got 'x'"),
    (["--time-limit", "0"], "got '0'"),
    (["--flash-limit", "0"], "argument --flash-limit: must be a positive integer, got '0'"),
    (["--flash-limit", "2.5e5.1"], "argument --flash-limit: must be a positive integer"),
    (["--sram-limit", "1.5"], "argument --sram-limit: must be a positive integer, got '1.5'"),
    (["--sram-limit", "0e3"], "argument --sram-limit: must be a positive integer, got '0e3'"),
    (["--flash-limit", "inf"], "got 'inf'"),
    (["--sampler", "cmaes"], "'cmaes'"),
    (["--model", "vgg"], "'vgg'"),
    (["--dataset", "NoSuchSet"], "NoSuchSet"),
    (["--dataset", "cifar10"], "needs root"),
    (["--dataset", "cifar10"], "--root FOLDER"),  # the command line's option
    (["--dataset", "NoSuchSet"], "--root FOLDER"),
    (["--dataset", "cifar10", "--root", "/no/such/folder"], "'/no/such/folder'"),
    (["--dataset", "basicmotions", "--root", "/no/such/folder"], "/no/such/folder"),
]
BAD_STORAGES = [
    ("mysql://u@h/db", "'mysql://u@h/db'"),
    ("sqlite:////no/such/folder/x.db", "'/no/such/folder'"),
    ("/no/such/folder/x.log", "'/no/such/folder/x.log'"),
    ("redis://localhost:6379", "'redis://localhost:6379'"),
    ("postgresql+psycopg2://u:secret@127.0.0.1:9/db", "127.0.0.1:9"),
]


def _fails_cleanly(argv: list[str], capsys: pytest.CaptureFixture[str], message: str) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert message in last and "Traceback" not in err, err
    assert "_positive" not in err  # no internal names
    return last


@pytest.mark.parametrize(("flags", "message"), BAD_FLAGS)
def test_compress_bad_flag(
    flags: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "x.db"
    argv = ["compress", "--quick", "--storage", f"sqlite:///{db}", *flags]
    _fails_cleanly([*argv, "--artifact-dir", str(tmp_path / "a")], capsys, message)
    assert not db.exists() and not (tmp_path / "a").exists()  # nothing written


@pytest.mark.parametrize(("storage", "message"), BAD_STORAGES)
def test_compress_bad_storage(
    storage: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["compress", "--quick", "--storage", storage, "--artifact-dir", str(tmp_path / "a")]
    last = _fails_cleanly(argv, capsys, message)
    assert "secret" not in last  # a password is never printed
    assert not (tmp_path / "a").exists()


def test_compress_artifact_dir_is_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a").write_text("not a folder")
    spec = f"sqlite:///{tmp_path / 'x.db'}"
    argv = ["compress", "--quick", "--storage", spec, "--artifact-dir", str(tmp_path / "a")]
    _fails_cleanly(argv, capsys, str(tmp_path / "a"))
    assert optuna.get_all_study_summaries(make_storage(spec, heartbeat=False)) == []


def test_compress_bad_storage_as_a_process(tmp_path: Path) -> None:
    """The real command: exit 2, the bad URL on stderr's last line, no traceback."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    proc = subprocess.run(
        [sys.executable, "-m", "studies", "compress", "--storage", "mysql://u@h/db"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 2
    assert "'mysql://u@h/db'" in proc.stderr.strip().splitlines()[-1]
    assert "Traceback" not in proc.stderr and not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_startup_trials": -1}, "n_startup_trials"),
        ({"n_directions": 0}, "n_directions"),
        ({"hidden": 2.5}, "hidden"),
        ({"step_size": float("nan")}, "step_size"),
        ({"top_fraction": 1.5}, "1.5"),
        ({"prior_mean": "flat"}, "'flat'"),
        ({"seed": "zero"}, "'zero'"),
        ({"objective_bounds": [(1.0, 0.0)]}, "objective_bounds"),
        ({"device": "tpu:7"}, "tpu:7"),
    ],
)
def test_sampler_bad_argument_names_it(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as err:
        ARSSampler(**kwargs)  # type: ignore[arg-type]
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_workers": 0}, "n_workers"),
        ({"n_trials": 0}, "n_trials"),
        ({"storage": "sqlite:////no/such/folder/x.db"}, "/no/such/folder"),
        ({"target": "no_such_module:f"}, "no_such_module:f"),
        ({"directions": ["sideways"]}, "sideways"),
    ],
)
def test_run_workers_bad_argument_names_it(
    kwargs: dict[str, object], message: str, tmp_path: Path
) -> None:
    spec = f"sqlite:///{tmp_path / 'x.db'}"
    settings: dict[str, object] = {
        "n_workers": 1,
        "target": "tests.integration.support:objective",
        "storage": spec,
        "study_name": "s",
        "n_trials": 1,
        "directions": ["minimize"],
    }
    with pytest.raises(ValueError, match=message):
        run_workers(**{**settings, **kwargs})  # type: ignore[arg-type]
    if kwargs.get("storage") is None and (tmp_path / "x.db").exists():
        storage = make_storage(spec, heartbeat=False)
        assert all(s.n_trials == 0 for s in optuna.get_all_study_summaries(storage))


def test_compress_sizes_in_scientific_notation() -> None:
    from studies import compress

    parser = argparse.ArgumentParser()
    compress.add_arguments(parser)
    args = parser.parse_args(["--flash-limit", "1e6", "--sram-limit", "256e3", "--trials", "1e1"])
    assert (args.flash_limit, args.sram_limit, args.trials) == (1_000_000, 256_000, 10)
    assert all(isinstance(v, int) for v in (args.flash_limit, args.sram_limit, args.trials))
