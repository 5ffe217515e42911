from __future__ import annotations

import pytest
import torch

from optuna_ars._acquisition import Acquisition
from optuna_ars._acquisition import build_acquisition


def _build(losses: torch.Tensor, X: torch.Tensor) -> Acquisition:
    return build_acquisition(
        X,
        losses,
        torch.zeros(len(X), 0, dtype=torch.float64),
        pending=None,
        loss_bounds=None,
        n_policies=2,
        n_qmc_samples=16,
        rho=0.005,
        penalty=1e-3,
        seed=0,
        device=torch.device("cpu"),
    )


@pytest.mark.parametrize("scale", [1e-12, 1.0, 1e300])
def test_predictions_come_back_in_the_losses_units(scale: float) -> None:
    X = torch.linspace(0, 1, 9, dtype=torch.float64)[:, None]  # (9, 1)
    losses = 5.0 + scale * torch.sin(6 * X)  # (9, 1)
    acq = _build(losses, X)
    predicted = acq.predicted_losses(X)
    assert torch.isfinite(predicted).all()
    torch.testing.assert_close(predicted, losses, rtol=0.0, atol=0.05 * scale + 1e-9 * 5)
