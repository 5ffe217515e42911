from __future__ import annotations

import numpy as np
import pytest
import torch

from optuna_ars._surrogate import CachedPosterior
from optuna_ars._surrogate import SurrogateWarning
from optuna_ars._surrogate import fit_gps


def _data(n: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    X = torch.rand(n, 3, generator=g, dtype=torch.float64)
    Y = torch.stack([torch.sin(6 * X[:, 0]) + X[:, 1], 100 * X[:, 2] ** 2], -1)
    return X, Y


def test_cached_posterior_matches_botorch_posterior() -> None:
    X, Y = _data()
    models, _ = fit_gps(X, Y)
    post = CachedPosterior(models, device=torch.device("cpu"))
    q = torch.rand(50, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    mean, std = post(q)
    for j, model in enumerate(models):
        p = model.posterior(q)
        ref_mean = p.mean.squeeze(-1)
        ref_std = p.variance.squeeze(-1).sqrt()  # the latent f's, without observation noise
        torch.testing.assert_close(
            mean[:, j].double(), ref_mean, rtol=1e-3, atol=1e-3 * Y[:, j].std()
        )
        torch.testing.assert_close(
            std[:, j].double(), ref_std, rtol=2e-2, atol=1e-3 * Y[:, j].std()
        )


def test_pending_points_keep_their_mean_and_lose_their_variance() -> None:
    X, Y = _data()
    models, _ = fit_gps(X, Y)
    plain = CachedPosterior(models, device=torch.device("cpu"))
    grid = torch.rand(500, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    pending = grid[plain(grid)[1][:, 0].argmax()][None]  # the most uncertain point
    believer = CachedPosterior(models, pending=pending, device=torch.device("cpu"))
    m0, s0 = plain(pending)
    m1, s1 = believer(pending)
    torch.testing.assert_close(m1, m0, rtol=1e-3, atol=1e-3)
    # One extra observation with noise variance n at a point of variance v leaves v n / (v + n).
    noise = torch.tensor(
        [float(m.likelihood.noise) * float(m.outcome_transform.stdvs) ** 2 for m in models]
    )
    # float32 rollouts: the variance's absolute error scales with the output's variance.
    expected = s0**2 * noise / (s0**2 + noise)  # (1, 2)
    assert ((s1**2 - expected).abs() <= 0.05 * expected + 1e-5 * Y.var(0)).all()
    assert (s1 < s0).all()


def test_failed_fit_falls_back_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    X, Y = _data()
    _, states = fit_gps(X, Y)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("injected")

    import botorch.fit

    monkeypatch.setattr(botorch.fit, "fit_gpytorch_mll", broken)
    with pytest.warns(SurrogateWarning, match="previous hyperparameters"):
        models, _ = fit_gps(X, Y, previous=states)
    for model, state in zip(models, states, strict=True):
        for k, v in model.named_parameters():
            torch.testing.assert_close(v, state[k])
    with pytest.warns(SurrogateWarning, match="default"):
        models, _ = fit_gps(X, Y)
    mean, _ = CachedPosterior(models, device=torch.device("cpu"))(X)
    assert torch.isfinite(mean).all()


def test_learned_outputscale_keeps_uncertainty_away_from_clustered_data() -> None:
    # Passino (Sec. 4.3): 5 prior points in the flat corner, 5 walking into a dip. BoTorch's
    # current default kernel (no outputscale) predicts the data's standard deviation far
    # from them (0.32 here); the scaled kernel with its Gamma(2, 0.15) prior more (0.74).
    from studies.passino import passino
    from studies.passino import prior_points

    walk = np.array([(3.7, 26.2), (4.2, 26.0), (4.7, 25.5), (5.2, 25.0), (5.7, 24.9)])
    pts = np.concatenate([prior_points(2), walk])  # (10, 2) in [0, 30]^2
    y = torch.as_tensor(passino(pts[:, 0], pts[:, 1]))[:, None]  # (10, 1)
    X, Y = torch.as_tensor(pts / 30.0), (y - y.min()) / (y.max() - y.min())
    models, _ = fit_gps(X, Y)
    _, std = CachedPosterior(models, device=torch.device("cpu"))(torch.tensor([[0.5, 1 / 6]]))
    assert float(std[0, 0]) > 1.5 * float(Y.std())


def test_zero_prior_mean_predicts_the_observed_mean_far_from_the_data() -> None:
    g = torch.Generator().manual_seed(3)
    X = 0.1 * torch.rand(8, 2, generator=g, dtype=torch.float64)  # (8, 2) in one corner
    Y = torch.ones(8, 1, dtype=torch.float64)
    Y[0] = 0.0  # a dip; the rest is flat
    far = torch.ones(1, 2)
    (zero,), _ = fit_gps(X, Y, zero_mean=True)
    mean, _ = CachedPosterior([zero], device=torch.device("cpu"))(far)
    torch.testing.assert_close(mean[0, 0].double(), Y.mean(), atol=1e-3, rtol=0)
    (fitted,), _ = fit_gps(X, Y)
    mean, _ = CachedPosterior([fitted], device=torch.device("cpu"))(far)
    assert abs(float(mean[0, 0]) - float(Y.mean())) > 0.01  # a fitted constant is another level


def test_dimension_scaled_prior_extrapolates_a_smooth_trend_to_the_bounds() -> None:
    # CarSideImpact's lesson: a near-linear objective in 7-D, observed in the middle of the
    # cube. Gamma(3, 6) lengthscales (mean 0.5) revert to the mean near the bounds; the
    # dimension-scaled prior keeps the trend.
    g = torch.Generator().manual_seed(0)
    X = 0.25 + 0.5 * torch.rand(20, 7, generator=g, dtype=torch.float64)  # (20, 7)
    w = torch.linspace(1.0, 2.0, 7, dtype=torch.float64)
    Y = (X @ w)[:, None]  # (20, 1)
    corner = torch.ones(1, 7, dtype=torch.float64)
    truth = float(corner @ w)
    errors = {}
    for prior in ("dim_scaled", "gamma"):
        (model,), _ = fit_gps(X, Y, lengthscale_prior=prior)
        mean, _ = CachedPosterior([model], device=torch.device("cpu"))(corner)
        errors[prior] = abs(float(mean[0, 0]) - truth)
    assert errors["dim_scaled"] < 0.5 * errors["gamma"], errors
