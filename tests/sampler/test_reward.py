from __future__ import annotations

import pytest
import torch

from optuna_ars._reward import chebyshev
from optuna_ars._reward import expected_penalized_improvement
from optuna_ars._reward import hypervolume_scalarizations
from optuna_ars._reward import log_pof
from optuna_ars._reward import make_reward
from optuna_ars._reward import penalized_improvement
from optuna_ars._reward import reference_chebyshev


def test_chebyshev_matches_hand_computed_values() -> None:
    # Losses normalised by bounds [0, 10] x [0, 2]; λ = (0.25, 0.75), ρ = 0.005.
    scal = chebyshev(
        torch.tensor([0.25, 0.75]), torch.tensor([[0.0, 0.0], [10.0, 2.0]]), rho=0.005
    )
    losses = torch.tensor([[5.0, 1.0], [10.0, 0.0], [0.0, 2.0]])
    # normalised: (0.5, 0.5), (1, 0), (0, 1)
    # weighted:   (0.125, 0.375), (0.25, 0), (0, 0.75)
    expected = -torch.tensor([0.375 + 0.005 * 0.5, 0.25 + 0.005 * 0.25, 0.75 + 0.005 * 0.75])
    torch.testing.assert_close(scal(losses), expected)


def test_chebyshev_with_a_constant_objective_stays_finite() -> None:
    scal = chebyshev(torch.tensor([0.5, 0.5]), torch.tensor([[1.0, 0.0], [1.0, 4.0]]), rho=0.0)
    assert torch.isfinite(scal(torch.tensor([[1.0, 2.0], [3.0, 2.0]]))).all()


def test_reference_chebyshev_matches_hand_computed_values() -> None:
    # r = (1, 2), w = (0.5, 0.25): min((1 - l1) / 0.5, (2 - l2) / 0.25) + 0.1 ((1 - l1) + (2 - l2))
    scal = reference_chebyshev(torch.tensor([0.5, 0.25]), torch.tensor([1.0, 2.0]), rho=0.1)
    losses = torch.tensor([[0.0, 0.0], [0.5, 1.9], [2.0, 0.0]])
    expected = torch.tensor([2.0 + 0.3, 0.4 + 0.06, -2.0 + 0.1])
    torch.testing.assert_close(scal(losses), expected)


def test_reference_chebyshev_with_a_direction_along_one_axis_picks_that_extreme() -> None:
    front = torch.stack([torch.linspace(0, 1, 11), 1 - torch.linspace(0, 1, 11)], -1)  # (11, 2)
    r = torch.tensor([1.1, 1.1])
    best = [
        int(reference_chebyshev(torch.tensor(w), r, rho=0.0)(front).argmax())
        for w in ([1.0, 0.0], [0.0, 1.0], [0.7071, 0.7071])
    ]
    assert best == [0, 10, 5]  # smallest l1, smallest l2, the middle


def _ball_factor(m: int) -> float:
    """c_m of Golovin & Zhang (2020): the volume of the unit m-ball over 2^m."""
    import math

    return math.pi ** (m / 2) / (2**m * math.gamma(m / 2 + 1))


@pytest.mark.parametrize("m", [2, 3])
def test_scalarizations_over_random_directions_give_the_hypervolume(m: int) -> None:
    # Golovin & Zhang (2020): HV(Y | r) = c_m E_w[max_y max(s_w(y), 0)^m], w uniform on the
    # positive unit sphere; s_w is reference_chebyshev with ρ = 0, and its m-th power where
    # positive is hypervolume_scalarizations.
    from botorch.utils.sampling import sample_hypersphere
    from optuna._hypervolume import compute_hypervolume

    Y = torch.rand(12, m, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    r = torch.full((m,), 1.2, dtype=torch.float64)
    W = sample_hypersphere(m, n=20000, seed=1, dtype=torch.float64).abs()  # (K, m)
    powered = hypervolume_scalarizations(W, r)(Y)  # (12, K)
    single = torch.stack([reference_chebyshev(w, r, rho=0.0)(Y) for w in W[:50]], -1)
    torch.testing.assert_close(powered[:, :50], torch.where(single > 0, single**m, single))
    estimate = _ball_factor(m) * float(powered.amax(0).clamp_min(0).mean())
    assert estimate == pytest.approx(compute_hypervolume(Y.numpy(), r.numpy()), rel=0.02)


@pytest.mark.parametrize("m", [2, 3])
def test_reward_over_hypervolume_scalarizations_is_the_hypervolume_improvement(m: int) -> None:
    from botorch.utils.sampling import sample_hypersphere
    from optuna._hypervolume import compute_hypervolume

    Y = torch.rand(8, m, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    r = torch.full((m,), 1.1, dtype=torch.float64)
    scal = hypervolume_scalarizations(
        sample_hypersphere(m, n=20000, qmc=True, seed=3, dtype=torch.float64).abs(), r
    )
    candidates = torch.tensor([[0.05] * m, [0.2] * m, [0.9] * m], dtype=torch.float64)
    fn = make_reward(  # a posterior without noise: the reward is HVI(y) / c_m
        lambda x: (candidates, torch.zeros_like(candidates)),
        n_objectives=m,
        base_samples=torch.zeros(1, m, dtype=torch.float64),
        scalarize=scal,
        best=scal(Y).amax(0),
        penalty=0.0,
    )
    got = _ball_factor(m) * fn(torch.zeros(3, 1))
    base = compute_hypervolume(Y.numpy(), r.numpy())
    hvi = [
        compute_hypervolume(torch.cat([Y, c[None]]).numpy(), r.numpy()) - base for c in candidates
    ]
    assert hvi[0] > hvi[1] > 0 == hvi[2]  # much, some and no improvement
    torch.testing.assert_close(got, torch.tensor(hvi, dtype=torch.float64), rtol=0.03, atol=1e-4)


def test_penalized_improvement_is_eq_8() -> None:
    r = penalized_improvement(torch.tensor([3.0, 1.0, -1.0]), 1.0, penalty=1e-3)
    torch.testing.assert_close(r, torch.tensor([2.0, 0.0, -2e-3]))


def test_log_pof_multiplies_independent_constraints() -> None:
    lp = log_pof(torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 1.0]]))
    torch.testing.assert_close(lp.exp(), torch.tensor([0.25]))


def _posterior(mean: torch.Tensor, std: torch.Tensor):  # type: ignore[no-untyped-def]
    def post(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return mean.expand(len(x), -1), std.expand(len(x), -1)

    return post


def test_reward_is_monotone_in_feasibility_for_both_signs() -> None:
    scal = chebyshev(torch.tensor([1.0]), torch.tensor([[0.0], [1.0]]), rho=0.0)
    z = torch.zeros(1, 1)  # one sample at the mean
    for best, sign in ((-0.9, -1), (-0.1, 1)):  # objective mean 0.5 -> scalarized -0.5
        rewards = []
        for c_mean in (2.0, 0.0, -2.0):  # constraint less and less likely violated
            post = _posterior(torch.tensor([[0.5, c_mean]]), torch.tensor([[0.1, 1.0]]))
            fn = make_reward(
                post, n_objectives=1, base_samples=z, scalarize=scal, best=best, penalty=1e-3
            )
            rewards.append(float(fn(torch.zeros(1, 2))))
        assert rewards[0] < rewards[1] < rewards[2], (sign, rewards)


def test_reward_without_feasible_point_is_log_pof() -> None:
    post = _posterior(torch.tensor([[0.5, 0.0]]), torch.tensor([[0.1, 1.0]]))
    fn = make_reward(
        post,
        n_objectives=1,
        base_samples=torch.zeros(1, 1),
        scalarize=lambda y: -y[..., 0],
        best=None,
        penalty=1e-3,
    )
    assert float(fn(torch.zeros(3, 2))[0]) == pytest.approx(float(torch.tensor(0.5).log()))


def test_reward_averages_qmc_samples() -> None:
    post = _posterior(torch.tensor([[0.0]]), torch.tensor([[1.0]]))
    base = torch.tensor([[-1.0], [1.0]])
    fn = make_reward(
        post,
        n_objectives=1,
        base_samples=base,
        scalarize=lambda y: y[..., 0],
        best=0.0,
        penalty=1e-3,
    )
    # samples -1 and +1 -> rewards -1e-3 and 1 -> mean (1 - 1e-3) / 2
    assert float(fn(torch.zeros(1, 1))[0]) == pytest.approx((1 - 1e-3) / 2)


def test_exact_expectation_matches_many_samples_for_one_objective() -> None:
    # Points whose improvement needs 0, 1 and 3 standard deviations, with and without a
    # constraint that is feasible with probability 1/2.
    mean = torch.tensor([[0.5, 0.0], [0.6, 0.0], [0.8, 0.0]])  # (3, 1 + 1)
    std = torch.tensor([[0.1, 1.0], [0.1, 1.0], [0.1, 1.0]])

    def posterior(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return mean, std

    scal = chebyshev(torch.tensor([1.0]), torch.tensor([[0.0], [1.0]]), rho=0.005)
    best = float(scal(torch.tensor([[0.5]])))
    z = torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(0.5, 199_999.5, 200_000) / 2e5)
    kw = {"n_objectives": 1, "scalarize": scal, "best": best, "penalty": 1e-3}
    exact = make_reward(posterior, base_samples=None, **kw)(torch.zeros(3, 1))
    sampled = make_reward(posterior, base_samples=z[:, None], **kw)(torch.zeros(3, 1))
    assert torch.allclose(exact, sampled, rtol=1e-3, atol=1e-7), (exact, sampled)
    gain, loss = expected_penalized_improvement(
        torch.tensor([-0.3]), torch.tensor([0.1]), 0.0, penalty=1e-3
    )
    assert gain > 1e-5  # 3 σ away is still worth something (32 qMC samples saw nothing)
    assert loss == pytest.approx(-1e-3 * (0.3 + float(gain)), rel=1e-4)


def test_exact_expectation_needs_one_objective() -> None:
    with pytest.raises(ValueError, match="one objective, got 2"):
        make_reward(
            _posterior(torch.zeros(1, 2), torch.ones(1, 2)),
            n_objectives=2,
            base_samples=None,
            scalarize=lambda y: -y.sum(-1),
            best=0.0,
            penalty=1e-3,
        )
