"""Loaders on small files written by the tests (CIFAR-10 batches, .ts, DaLiAc CSV)."""

from __future__ import annotations

from pathlib import Path
import pickle

import numpy as np
import pytest

from evaluators.data import DALIAC_WINDOW
from evaluators.data import load_dataset


def _write_cifar(root: Path, per_batch: int = 20) -> None:
    rng = np.random.default_rng(0)
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        batch = {
            b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            b"labels": [i % 10 for i in range(per_batch)],
        }
        with (root / name).open("wb") as f:
            pickle.dump(batch, f)


def test_cifar10_batches(tmp_path: Path) -> None:
    _write_cifar(tmp_path)
    data = load_dataset("cifar10", root=tmp_path)
    assert data.kind == "image" and data.default_model == "resnet"
    assert data.input_shape == (3, 32, 32) and data.n_classes == 10
    assert len(data.y_train) + len(data.y_val) == 100 and len(data.y_test) == 20
    assert set(data.y_val.tolist()) == set(range(10))  # stratified: every class in val
    assert abs(float(data.x_train.mean())) < 0.05


def test_cifar10_missing_and_malformed(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="data_batch_1"):
        load_dataset("cifar10", root=tmp_path)
    _write_cifar(tmp_path)
    (tmp_path / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match=r"data_batch_3.*CIFAR-10 python batch"):
        load_dataset("cifar10", root=tmp_path)
    with pytest.raises(ValueError, match="needs root"):
        load_dataset("cifar10")


_TS_HEADER = """@problemName Tiny
@timeStamps false
@missing false
@univariate false
@dimensions 2
@equalLength false
@classLabel true up down
@data
"""


def _write_ts(path: Path, n: int, rng: np.random.Generator) -> None:
    lines = []
    for i in range(n):
        length = 5 + i % 4  # variable length 5..8
        label = "up" if i % 2 else "down"
        dims = [",".join(f"{v:.3f}" for v in rng.normal(size=length)) for _ in range(2)]
        lines.append(":".join([*dims, label]))
    path.write_text(_TS_HEADER + "\n".join(lines) + "\n")


def test_ts_files_variable_length(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    _write_ts(tmp_path / "Tiny_TRAIN.ts", 12, rng)
    _write_ts(tmp_path / "Tiny_TEST.ts", 6, rng)
    data = load_dataset("Tiny", root=tmp_path)
    assert data.input_shape == (2, 1, 8)  # padded to the longest series
    assert data.classes == ("down", "up")
    assert len(data.y_train) + len(data.y_val) == 12 and len(data.y_test) == 6
    assert float(data.x_train[0, 0, 0, -1]) == 0.0  # padding = channel mean after scaling


def test_ts_missing_and_malformed(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"Tiny_TRAIN.ts"):
        load_dataset("Tiny", root=tmp_path)
    (tmp_path / "Tiny_TRAIN.ts").write_text("@data\ngarbage without header\n")
    (tmp_path / "Tiny_TEST.ts").write_text("@data\n")
    with pytest.raises(ValueError, match=r"Tiny_TRAIN.ts.*expected numeric series"):
        load_dataset("Tiny", root=tmp_path)


def test_bundled_and_unknown_names() -> None:
    data = load_dataset("BasicMotions")
    assert data.input_shape == (6, 1, 100) and data.n_classes == 4
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (32, 8, 40)
    with pytest.raises(ValueError, match="'NoSuchSet' is not bundled"):
        load_dataset("NoSuchSet")
    with pytest.raises(ValueError, match="val_fraction"):
        load_dataset("basicmotions", val_fraction=1.5)


def test_daliac_windows(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    for subject in (1, 2):
        # Two activities, 2 full windows each plus a short remainder that is dropped.
        labels = np.repeat([1, 2], 2 * DALIAC_WINDOW + 100)
        table = np.column_stack([rng.normal(size=(len(labels), 3)), labels])
        np.savetxt(tmp_path / f"S{subject}.csv", table, delimiter=",", fmt="%.4g")
    data = load_dataset("daliac", root=tmp_path)
    assert data.input_shape == (3, 1, DALIAC_WINDOW) and data.default_model == "mobilenet"
    assert len(data.y_train) + len(data.y_val) + len(data.y_test) == 8
    (tmp_path / "S3.csv").write_text("1,2,x\n")
    with pytest.raises(ValueError, match=r"S3.csv"):
        load_dataset("daliac", root=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"empty.*no \*.csv"):
        load_dataset("daliac", root=tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match=r"S1.csv' is not a directory"):
        load_dataset("daliac", root=tmp_path / "S1.csv")
