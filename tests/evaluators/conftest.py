from __future__ import annotations

from typing import Any

import pytest
import torch

from evaluators.data import Dataset
from evaluators.data import load_dataset
from evaluators.train import TrainConfig


@pytest.fixture(scope="session")
def basicmotions() -> Dataset:
    return load_dataset("basicmotions")


@pytest.fixture
def tiny() -> Dataset:
    """Random 3-class series [N, 2, 1, 16]: fast to train, nothing to learn."""
    gen = torch.Generator().manual_seed(0)

    def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.randn(n, 2, 1, 16, generator=gen), torch.arange(n) % 3

    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = split(12), split(6), split(6)
    return Dataset(
        name="tiny",
        kind="timeseries",
        x_train=x_tr,
        y_train=y_tr,
        x_val=x_va,
        y_val=y_va,
        x_test=x_te,
        y_test=y_te,
        classes=("a", "b", "c"),
        mean=(0.0, 0.0),
        std=(1.0, 1.0),
    )


def small_config(**overrides: Any) -> TrainConfig:
    """A short training run (2 epochs, 2 AGP steps); keyword arguments override fields."""
    base: dict[str, Any] = {
        "epochs": 2,
        "batch_size": 4,
        "lr": 0.01,
        "momentum": 0.9,
        "lr_schedule": 0.5,
        "lr_gamma": 0.5,
        "weight_decay": 1e-4,
        "pruning_start": 0.0,
        "pruning_end": 0.5,
        "pruning_steps": 2,
    }
    return TrainConfig(**{**base, **overrides})
