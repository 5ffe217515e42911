"""The reward the ARS policies maximise: Eq. 7-8 of the paper, with feasibility.

All objectives arrive as losses (to be minimised). BoTorch's ``get_chebyshev_scalarization``
works in maximisation form, so it is given ``-loss``: it normalises each objective to [0, 1]
by the bounds it is handed and returns ``-(max_j λ_j ℓ_j + ρ Σ_j λ_j ℓ_j)``, i.e. Eq. 7 for
maximisation. Eq. 8 then rewards the improvement over the best feasible observed value and
multiplies negative improvement by ``penalty`` (1e-3) instead of clamping it to zero.

Feasibility: the reward of a posterior sample is multiplied by the probability of
feasibility (PoF, independent GPs per constraint, ``c <= 0`` feasible) when it is an
improvement. For a penalised *negative* improvement, multiplying by PoF would make infeasible
points look better (closer to zero), so it is multiplied by ``2 - PoF`` instead: the reward
is then increasing in PoF for both signs and equals Eq. 8 where feasibility is certain.
With no feasible observation yet the reward is ``log PoF``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Posterior = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def chebyshev(
    weights: torch.Tensor,  # (m,) on the simplex
    loss_bounds: torch.Tensor,  # (2, m): rows are the normalisation bounds of the losses
    *,
    rho: float,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Augmented Chebyshev scalarization (Eq. 7), maximisation form: ``(..., m) -> (...)``."""
    from botorch.utils.multi_objective.scalarization import get_chebyshev_scalarization

    low, high = loss_bounds.min(0).values, loss_bounds.max(0).values
    high = torch.where(high > low, high, low + 1.0)  # a constant objective: unit span
    scalarize = get_chebyshev_scalarization(weights, -torch.stack([low, high]), alpha=rho)
    return lambda losses: scalarize(-losses, None)


def penalized_improvement(value: torch.Tensor, best: float, *, penalty: float) -> torch.Tensor:
    """Eq. 8: ``value - best`` where positive, ``penalty * (value - best)`` otherwise."""
    diff = value - best
    return torch.where(diff > 0, diff, penalty * diff)


def log_pof(means: torch.Tensor, stds: torch.Tensor) -> torch.Tensor:
    """Log probability that every constraint is ``<= 0``: ``(B, c) -> (B,)``."""
    return torch.special.log_ndtr(-means / stds).sum(-1)


def make_reward(
    posterior: Posterior,
    *,
    n_objectives: int,
    base_samples: torch.Tensor,  # (S, m) fixed standard-normal qMC samples
    scalarize: Callable[[torch.Tensor], torch.Tensor],
    best: float | None,  # best scalarized feasible observation; None: nothing feasible yet
    penalty: float,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Reward of points ``(B, D) -> (B,)``: the qMC average of Eq. 8 weighted by feasibility.

    Outputs of ``posterior`` beyond the first ``n_objectives`` are constraints. The same base
    samples serve every call (common random numbers across directions and iterations).
    """
    m = n_objectives

    def reward(x: torch.Tensor) -> torch.Tensor:
        mean, std = posterior(x)  # (B, m + c) each
        lp = log_pof(mean[:, m:], std[:, m:]) if mean.shape[-1] > m else None
        if best is None:
            assert lp is not None, "no feasible point needs constraints"
            return lp
        z = base_samples.to(mean)  # (S, m)
        samples = mean[None, :, :m] + std[None, :, :m] * z[:, None, :]  # (S, B, m)
        r = penalized_improvement(scalarize(samples), best, penalty=penalty)  # (S, B)
        if lp is not None:
            pof = lp.exp()  # (B,)
            r = torch.where(r >= 0, r * pof, r * (2.0 - pof))
        return r.mean(0)

    return reward
