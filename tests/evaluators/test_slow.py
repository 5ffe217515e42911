"""The other two networks of Sec. 4 end to end on files in the loaders' formats (slow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluators.data import DALIAC_WINDOW
from evaluators.data import load_dataset
from evaluators.objective import evaluate
from tests.evaluators.conftest import small_config
from tests.evaluators.test_data import _write_cifar

pytestmark = pytest.mark.slow


def test_resnet_on_cifar10_files(tmp_path: Path) -> None:
    _write_cifar(tmp_path, per_batch=40)
    data = load_dataset("cifar10", root=tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    result = evaluate(data, "resnet", small_config(batch_size=32), workdir=work)
    assert result.quantized.float_ops == ()
    assert result.footprint.flops > 0 and result.footprint.sram_bytes > 0


def test_mobilenet_on_daliac_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(1, 5), 3 * DALIAC_WINDOW)
    table = np.column_stack([rng.normal(size=(len(labels), 24)), labels])
    np.savetxt(tmp_path / "S1.csv", table, delimiter=",", fmt="%.3g")
    data = load_dataset("daliac", root=tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    result = evaluate(data, "mobilenet", small_config(), workdir=work)
    assert result.quantized.float_ops == ()  # hard-swish and hard-sigmoid quantize too


def test_dynamo_export_reports_float_ops(tmp_path: Path) -> None:
    data = load_dataset("basicmotions")
    result = evaluate(data, "uea", small_config(batch_size=16), workdir=tmp_path, dynamo=True)
    assert result.quantized.val_accuracy >= 0.0
    assert "ReduceMean" in result.quantized.float_ops  # the dynamo exporter's pooling
