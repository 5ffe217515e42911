from __future__ import annotations

from typing import Any

import pytest
import torch

from optuna_ars import _surrogate
from optuna_ars._acquisition import N_HV_WEIGHTS
from optuna_ars._acquisition import Acquisition
from optuna_ars._acquisition import build_acquisition


def _build(
    losses: torch.Tensor,
    X: torch.Tensor,
    cons: torch.Tensor | None = None,
    *,
    n_policies: int = 2,
    prior_mean: str = "auto",
    scalarization: str = "reference",
    pending: torch.Tensor | None = None,
    reference_point: torch.Tensor | None = None,
) -> Acquisition:
    return build_acquisition(
        X,
        losses,
        torch.zeros(len(X), 0, dtype=torch.float64) if cons is None else cons,
        pending=pending,
        loss_bounds=None,
        reference_point=reference_point,
        n_policies=n_policies,
        n_qmc_samples=16,
        rho=0.005,
        penalty=1e-3,
        seed=0,
        device=torch.device("cpu"),
        prior_mean=prior_mean,
        scalarization=scalarization,
    )


@pytest.mark.parametrize("scale", [1e-12, 1.0, 1e300])
def test_predictions_come_back_in_the_losses_units(scale: float) -> None:
    X = torch.linspace(0, 1, 9, dtype=torch.float64)[:, None]  # (9, 1)
    losses = 5.0 + scale * torch.sin(6 * X)  # (9, 1)
    acq = _build(losses, X)
    predicted = acq.predicted_losses(X)
    assert torch.isfinite(predicted).all()
    torch.testing.assert_close(predicted, losses, rtol=0.0, atol=0.05 * scale + 1e-9 * 5)


def _corner_cluster() -> tuple[torch.Tensor, torch.Tensor]:
    """10 points in the corner [0, 0.15]^2 of the unit square; one objective."""
    g = torch.Generator().manual_seed(0)
    X = 0.15 * torch.rand(10, 2, generator=g, dtype=torch.float64)  # (10, 2)
    return X, -X.sum(1, keepdim=True)  # (10, 1)


def test_start_states_beyond_the_front_are_spread_by_reward() -> None:
    X, losses = _corner_cluster()
    acq = _build(losses, X, n_policies=5)
    starts = acq.starts.double()  # (5, 2)
    assert starts.shape == (5, 2)
    torch.testing.assert_close(starts[0], X[losses[:, 0].argmin()], atol=1e-6, rtol=0)
    # The other four come from the whole cube, not from the runners-up in the corner.
    gap = torch.cdist(starts[1:], X).min(1).values  # (4,)
    assert (gap > 0.1).sum() >= 2, gap
    # Drawn with probability rising with the reward: better than uniform points on average.
    uniform = torch.rand(1024, 2, generator=torch.Generator().manual_seed(1))
    assert acq.reward(starts[1:].float()).mean() > acq.reward(uniform).mean()
    again = _build(losses, X, n_policies=5).starts
    torch.testing.assert_close(acq.starts, again)


@pytest.mark.parametrize(
    ("n_objectives", "prior_mean", "zero", "lengthscale_prior"),
    [
        (1, "auto", True, "gamma"),
        (2, "auto", False, "dim_scaled"),
        (2, "zero", True, "dim_scaled"),
        (1, "constant", False, "gamma"),
    ],
)
def test_gp_choices_follow_prior_mean_and_the_number_of_objectives(
    monkeypatch: pytest.MonkeyPatch,
    n_objectives: int,
    prior_mean: str,
    zero: bool,
    lengthscale_prior: str,
) -> None:
    seen = []
    fit = _surrogate.fit_gps

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append((kwargs["zero_mean"], kwargs["lengthscale_prior"]))
        return fit(*args, **kwargs)

    monkeypatch.setattr(_surrogate, "fit_gps", spy)
    X, losses = _corner_cluster()
    _build(losses.repeat(1, n_objectives), X, prior_mean=prior_mean)
    assert seen == [(zero, lengthscale_prior)]


@pytest.mark.parametrize(
    ("scalarization", "norm", "n_weights"),
    [("reference", 2, 1), ("hypervolume", 2, N_HV_WEIGHTS), ("ideal", 1, 1)],
)
def test_weights_are_directions_or_simplex_points(
    scalarization: str, norm: int, n_weights: int
) -> None:
    X, losses = _corner_cluster()
    three = torch.cat([losses, X], 1)  # (10, 3): three objectives
    acq = _build(three, X, scalarization=scalarization)
    weights = acq.weights.reshape(n_weights, 3)
    assert (weights >= 0).all() and len(weights.unique(dim=0)) == n_weights
    norms = torch.linalg.vector_norm(weights, ord=norm, dim=1)
    torch.testing.assert_close(norms, torch.ones(n_weights))
    with pytest.raises(ValueError, match=r"scalarization.*'nadir'"):
        _build(three, X, scalarization="nadir")


def test_a_running_trial_takes_its_believed_gain_out_of_the_reward() -> None:
    # Two objectives on a line: the gap between the two observed ends is worth filling.
    X = torch.tensor([[0.0], [0.1], [0.9], [1.0]], dtype=torch.float64)  # (4, 1)
    losses = torch.cat([X, (1 - X) ** 2], 1)  # (4, 2): one front
    grid = torch.linspace(0, 1, 101)[:, None]  # (101, 1)
    free = _build(losses, X, scalarization="hypervolume")
    peak = grid[free.reward(grid).argmax()]  # where the gain is believed largest
    assert 0.2 < float(peak) < 0.8
    busy = _build(losses, X, scalarization="hypervolume", pending=peak[None].double())
    assert float(busy.reward(peak[None])) < 0.1 * float(free.reward(peak[None]))
    far = grid[(grid - peak).abs()[:, 0] > 0.2]  # elsewhere the gain stays
    assert float(busy.reward(far).max()) > 0.3 * float(free.reward(far).max())


def test_the_reference_point_reaches_as_far_as_the_front_of_all_points() -> None:
    # A trade-off line f1 + f2 = 1 of which only the end (0, 1) is feasible, and a dominated
    # point (2, 2) that sets the observed range to [0, 2] for both losses.
    f1 = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0, 2.0], dtype=torch.float64)
    losses = torch.stack([f1, torch.tensor([1.0, 0.75, 0.5, 0.25, 0.0, 2.0])], 1)  # (6, 2)
    X = torch.linspace(0, 1, 6, dtype=torch.float64)[:, None]  # (6, 1)
    cons = torch.tensor([[-1.0], [1.0], [1.0], [1.0], [1.0], [1.0]], dtype=torch.float64)
    for kind in ("hypervolume", "reference"):
        # normalised front of all points up to (0.5, 0.5), plus 0.1; the feasible front
        # alone would give (0.1, 0.6) and keep every gain at the feasible end
        acq = _build(losses, X, cons, scalarization=kind)
        assert acq.reference is not None
        torch.testing.assert_close(acq.reference, torch.tensor([0.6, 0.6]))
    assert _build(losses, X, cons, scalarization="ideal").reference is None


def test_a_given_reference_point_spans_the_normalisation_from_the_best_losses() -> None:
    g = torch.Generator().manual_seed(1)
    X = torch.rand(8, 3, generator=g, dtype=torch.float64)  # (8, 3)
    losses = torch.stack([1000 + 30 * X[:, 0], 1 - X[:, 0] + X[:, 1]], 1)  # (8, 2)
    reference = torch.tensor([1864.0, 3.0], dtype=torch.float64)
    acq = _build(losses, X, scalarization="hypervolume", reference_point=reference)
    torch.testing.assert_close(acq.loss_offset, losses.min(0).values)
    torch.testing.assert_close(acq.loss_scale, reference - losses.min(0).values)
    reference_losses = acq.reference_losses()
    assert reference_losses is not None
    torch.testing.assert_close(reference_losses, reference, rtol=1e-6, atol=0.0)
    torch.testing.assert_close(acq.reference, torch.ones(2))  # a unit box from the best losses


@pytest.mark.parametrize("feasible", [True, False])
def test_a_loss_of_zero_range_takes_ten_percent_of_its_value_as_margin(feasible: bool) -> None:
    # Loss 0 sits at 0.75 for every point (every start-up network at chance), loss 1 ranges
    # over [10, 30], loss 2 is 0 everywhere: margins 0.075, 2 and 0.1 (zero has unit size).
    X = torch.linspace(0, 1, 3, dtype=torch.float64)[:, None]  # (3, 1)
    losses = torch.tensor(
        [[0.75, 10.0, 0.0], [0.75, 20.0, 0.0], [0.75, 30.0, 0.0]], dtype=torch.float64
    )
    cons = torch.full((3, 1), -1.0 if feasible else 1.0, dtype=torch.float64)
    # The feasible front is the one point (0.75, 10, 0); its nadir is raised to the front of
    # all points, the same point. With no feasible point: the worst observed losses.
    worst = torch.tensor([0.75, 10.0 if feasible else 30.0, 0.0], dtype=torch.float64)
    for kind in ("hypervolume", "reference"):
        reference = _build(losses, X, cons, scalarization=kind).reference_losses()
        assert reference is not None
        expected = worst + torch.tensor([0.075, 2.0, 0.1], dtype=torch.float64)
        torch.testing.assert_close(reference, expected, rtol=1e-6, atol=1e-7)
