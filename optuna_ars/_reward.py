"""The reward the ARS policies maximise: Eq. 7-8 of the paper, with feasibility.

All objectives arrive as losses (to be minimised). Eq. 7, ``max_j λ_j f_j + ρ Σ_j λ_j f_j``,
leaves open where the objectives ``f_j`` are measured from; two anchors are offered, the
reference point in two forms:

* ``hypervolume_scalarizations`` (the default): ``K`` of the next at once, ``ρ = 0``, each
  raised to the power m; Eq. 8 averaged over them estimates the hypervolume improvement.
* ``reference_chebyshev``: ``f_j = ℓ_j - r_j`` from a reference point ``r``
  (the fronts' nadir plus 10 % of the observed range, or the user's bound), with ``1 / λ``
  uniform on the positive unit sphere. Averaged over λ, the best scalarized value of a set
  of points grows like its hypervolume w.r.t. ``r`` (Golovin & Zhang 2020; tested), so the
  random weights aim at hypervolume gains, extremes of the front included.
* ``chebyshev`` (the paper's experiments, and ParEGO's): ``f_j`` normalised to [0, 1] from
  the ideal point, λ uniform on the simplex, by BoTorch's ``get_chebyshev_scalarization``
  (handed ``-loss``: it works in maximisation form and returns ``-(Eq. 7)``). Its targets
  cluster in the middle of the front: on VehicleSafety (seed 0) proposals 20-40 all had a
  mass within 1 666-1 676 (reference point 1 865), and the median hypervolume of 3 seeds
  went only from 0.838 to 0.845 between trials 25 and 40 (0.877 to 0.920 with the
  reference anchor).

Eq. 8 then rewards the improvement over the best feasible observed value and
multiplies negative improvement by ``penalty`` (1e-3) instead of clamping it to zero.

Feasibility: the reward of a posterior sample is multiplied by the probability of
feasibility (PoF, independent GPs per constraint, ``c <= 0`` feasible) when it is an
improvement. For a penalised *negative* improvement, multiplying by PoF would make infeasible
points look better (closer to zero), so it is multiplied by ``2 - PoF`` instead: the reward
is then increasing in PoF for both signs and equals Eq. 8 where feasibility is certain.
With no feasible observation yet the reward is ``log PoF``.

Expectation: the reward is the expectation of Eq. 8 over the posterior. With several
objectives it is estimated by averaging fixed quasi-Monte-Carlo samples (common random
numbers). With one objective Eq. 7 is affine in the loss, so the scalarized posterior is
Gaussian and the expectation has a closed form (an expected-improvement formula), used
exactly: with 32 qMC samples the most extreme normal quantile is about -1.77, so any
improvement needing more than ~1.8 σ looked worth nothing and the policies never left a
local basin (paper Sec. 4.3, measured in ``studies.passino``).
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


def reference_chebyshev(
    weights: torch.Tensor,  # (m,) positive: a direction, e.g. on the unit sphere
    reference: torch.Tensor,  # (m,) reference point of the losses
    *,
    rho: float,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Eq. 7 anchored at a reference point, maximisation form: ``(..., m) -> (...)``.

    ``min_j (r_j - ℓ_j) / w_j + ρ Σ_j (r_j - ℓ_j)``: Eq. 7 (negated) on the objectives
    ``f_j = ℓ_j - r_j`` with the weights ``1 / w_j``. With ``w`` uniform on the positive unit
    sphere its maximum over a set grows like that set's hypervolume w.r.t. ``r`` (Golovin &
    Zhang 2020, "random hypervolume scalarizations"). Written here because BoTorch's
    ``get_chebyshev_scalarization`` is anchored at the ideal point only.
    """
    inverse = 1.0 / weights.clamp_min(1e-6)  # (m,)

    def scalarize(losses: torch.Tensor) -> torch.Tensor:
        gap = reference - losses  # (..., m), computed once per call (rollout hot path)
        return (gap * inverse).amin(-1) + rho * gap.sum(-1)

    return scalarize


def hypervolume_scalarizations(
    weights: torch.Tensor,  # (K, m) positive directions, e.g. on the unit sphere
    reference: torch.Tensor,  # (m,) reference point of the losses
) -> Callable[[torch.Tensor], torch.Tensor]:
    """K hypervolume scalarizations, ``(..., m) -> (..., K)``: ``s_w(ℓ)^m`` where positive.

    ``s_w(ℓ) = min_j (r_j - ℓ_j) / w_j`` is Eq. 7 from the reference point with ``ρ = 0``.
    For ``w`` uniform on the positive unit sphere, ``HV(Y) = c_m E_w[max_{ℓ∈Y} s_w(ℓ)^m]``
    (Golovin & Zhang 2020), so the improvement of Eq. 8 averaged over the ``K``
    weights is a Monte-Carlo estimate of the hypervolume improvement. A point beyond the
    reference in some loss (``s < 0``) keeps ``s`` itself, so the penalty of Eq. 8 still ranks
    it. Written here because BoTorch's scalarizations are anchored at the ideal point.
    """
    inverse = 1.0 / weights.clamp_min(1e-6)  # (K, m)
    power = weights.shape[-1]

    def scalarize(losses: torch.Tensor) -> torch.Tensor:
        gap = reference - losses  # (..., m)
        s = gap[..., :1] * inverse[:, 0]  # (..., K); a loop over j, not a (..., K, m) tensor
        for j in range(1, power):
            s = torch.minimum(s, gap[..., j : j + 1] * inverse[:, j])
        return torch.where(s > 0, s.clamp_min(0) ** power, s)

    return scalarize


def penalized_improvement(
    value: torch.Tensor, best: float | torch.Tensor, *, penalty: float
) -> torch.Tensor:
    """Eq. 8: ``value - best`` where positive, ``penalty * (value - best)`` otherwise."""
    diff = value - best
    return torch.where(diff > 0, diff, penalty * diff)


def expected_penalized_improvement(
    mean: torch.Tensor, std: torch.Tensor, best: float, *, penalty: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """E[Eq. 8] for a Gaussian value ``N(mean, std²)``, split as (gain part, penalty part).

    With ``u = value - best``: ``E[max(u, 0)] = σ φ(μ/σ) + μ Φ(μ/σ)`` and
    ``E[min(u, 0)] = μ - E[max(u, 0)]``; the penalty part is ``penalty * E[min(u, 0)]``.
    """
    mu, sigma = mean - best, std.clamp_min(1e-12)
    z = mu / sigma
    normal = torch.distributions.Normal(torch.zeros_like(z), torch.ones_like(z))
    gain = sigma * normal.log_prob(z).exp() + mu * normal.cdf(z)
    return gain.clamp_min(0.0), penalty * (mu - gain).clamp_max(0.0)


def log_pof(means: torch.Tensor, stds: torch.Tensor) -> torch.Tensor:
    """Log probability that every constraint is ``<= 0``: ``(B, c) -> (B,)``."""
    return torch.special.log_ndtr(-means / stds).sum(-1)


def make_reward(
    posterior: Posterior,
    *,
    n_objectives: int,
    base_samples: torch.Tensor | None,  # (S, m) fixed qMC normals; None: exact, m = 1 only
    scalarize: Callable[[torch.Tensor], torch.Tensor],
    best: float | torch.Tensor | None,  # best scalarized feasible observation (per scalarization
    # when ``scalarize`` returns (..., K)); None: nothing feasible yet
    penalty: float,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Reward of points ``(B, D) -> (B,)``: the expectation of Eq. 8 weighted by feasibility.

    Outputs of ``posterior`` beyond the first ``n_objectives`` are constraints. The same base
    samples serve every call (common random numbers across directions and iterations).
    Without base samples (one objective, so ``scalarize`` is affine) the expectation is exact.
    A ``scalarize`` with ``K`` outputs (:func:`hypervolume_scalarizations`) is averaged over
    them as well: Eq. 8 then estimates the expected hypervolume improvement.
    """
    m = n_objectives
    if base_samples is None and m != 1:
        raise ValueError(f"the exact expectation needs one objective, got {m}")

    def reward(x: torch.Tensor) -> torch.Tensor:
        mean, std = posterior(x)  # (B, m + c) each
        lp = log_pof(mean[:, m:], std[:, m:]) if mean.shape[-1] > m else None
        if best is None:
            assert lp is not None, "no feasible point needs constraints"
            return lp
        pof = lp.exp() if lp is not None else torch.ones_like(mean[:, 0])  # (B,)
        if base_samples is None:
            s_mean = scalarize(mean[:, :1])  # (B,)
            s_std = (scalarize(mean[:, :1] + std[:, :1]) - s_mean).abs()  # affine: exact
            gain, loss = expected_penalized_improvement(
                s_mean, s_std, float(best), penalty=penalty
            )
            return gain * pof + loss * (2.0 - pof)
        z = base_samples.to(mean)  # (S, m)
        samples = mean[None, :, :m] + std[None, :, :m] * z[:, None, :]  # (S, B, m)
        r = penalized_improvement(scalarize(samples), best, penalty=penalty)  # (S, B[, K])
        if r.dim() == 3:
            r = r.mean(-1)  # (S, B)
        return torch.where(r >= 0, r * pof, r * (2.0 - pof)).mean(0)

    return reward
