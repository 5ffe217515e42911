"""One suggestion's acquisition problem, built from plain tensors (Algorithm 1, lines 3-6).

Given the observed points, losses and constraint values: fit the surrogate, draw the
Chebyshev weights λ (Eq. 7), build the qMC reward of Eq. 8 weighted by feasibility, and pick
the policies' start states (the feasible Pareto front, topped up by points drawn by reward).
Knows nothing of Optuna: the sampler and the studies (e.g. the figures of Sec. 4.3) share it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from optuna_ars import _pareto
from optuna_ars import _reward
from optuna_ars import _surrogate
from optuna_ars._ars import RewardFn

_N_RAW = 1024  # Sobol points scored for the top-up of start states
PRIOR_MEANS = ("auto", "constant", "zero")
SCALARIZATIONS = ("reference", "hypervolume", "ideal")
N_HV_WEIGHTS = 8
"""[K] directions of the "hypervolume" scalarization, crossed with the qMC samples. On
BraninCurrin and DTLZ2 (seed 0, 30 trials) K = 32 gave HV 0.955 and 0.088, K = 8 0.950 and
0.634 at 3.5x less time per suggestion."""


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    """Raise ``ValueError`` naming ``name`` and the bad ``value`` unless it is in ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


@dataclass
class Acquisition:
    """What the ARS policies are trained on, and the GP hyperparameters for the next fit."""

    posterior: _surrogate.CachedPosterior  # (B, D) -> means, stds (B, m + c)
    reward: RewardFn  # (B, D) -> (B,)
    starts: torch.Tensor  # (L, D) start states, float32 on the device
    weights: torch.Tensor  # (m,) Chebyshev weights λ, or (K, m) directions ("hypervolume")
    reference: torch.Tensor | None  # (m,) reference point of Eq. 7 in the GPs' units; None: ideal
    gp_states: list[dict[str, Any]]
    loss_offset: torch.Tensor  # (m,) the GPs model (loss - offset) / scale
    loss_scale: torch.Tensor  # (m,)

    def predicted_losses(self, x: torch.Tensor) -> torch.Tensor:
        """Posterior mean of the losses in their own units: ``(B, D) -> (B, m)``."""
        m = len(self.loss_scale)
        mean = self.posterior(x)[0][:, :m].double().cpu()
        return mean * self.loss_scale + self.loss_offset

    def reference_losses(self) -> torch.Tensor | None:
        """The reference point of Eq. 7 in the losses' own units, ``(m,)``; None: ideal."""
        if self.reference is None:
            return None
        return self.reference.double().cpu() * self.loss_scale + self.loss_offset


def build_acquisition(
    X: torch.Tensor,  # (n, D) observed points in the unit cube, float64
    losses: torch.Tensor,  # (n, m) objectives to minimise, finite, float64
    cons: torch.Tensor,  # (n, c) constraint values (<= 0 feasible), finite, float64
    *,
    pending: torch.Tensor | None,  # (p, D) points of running trials
    loss_bounds: torch.Tensor | None,  # (2, m) normalisation bounds; None: observed range
    reference_point: torch.Tensor | None = None,  # (m,) losses' reference point; None: inferred
    n_policies: int,
    n_qmc_samples: int,
    rho: float,
    penalty: float,
    seed: int,
    device: torch.device,
    previous: list[dict[str, Any]] | None = None,
    prior_mean: str = "auto",
    scalarization: str = "hypervolume",
) -> Acquisition:
    """Surrogate, weights, reward (Eq. 7-8 × probability of feasibility) and start states.

    The GPs see the losses mapped affinely onto [0, 1] by the normalisation bounds of Eq. 7
    and each constraint divided by its largest magnitude (sign kept), in float64, before the
    float32 rollouts: values at 1e300 or with a spread of 1e-12 then neither overflow nor
    collapse in float32.

    ``prior_mean`` of the GPs: ``"constant"`` (fitted), ``"zero"`` (the mean of the
    standardized observations), or ``"auto"``: zero with one objective, constant otherwise.
    With one objective the reward is expected improvement, which explores only through the
    prior away from the data. On Passino (Sec. 4.3) the fitted constant settled above the
    level of the flat region (20 points, losses on [0, 1]: far-away mean 0.49, flat 0.44,
    observed mean 0.38), so nothing unexplored looked better than the flat region; zero
    predicts the observed mean there. Over 10 seeds zero found the global minimum 9 times,
    the constant 5. With several objectives the random Chebyshev weights move the target
    every trial, and the constant gave the higher hypervolume (3 seeds, 40 trials: DTLZ2 0.65
    against 0.32, BraninCurrin 0.89 against 0.87).

    The lengthscale prior of the GPs (``_surrogate``): Gamma(3, 6) with one objective,
    BoTorch's dimension-scaled prior with several. On Passino (Sec. 4.3, one objective) the
    dimension-scaled prior found the minimum in 2 of seeds 0-5 (0411c78), Gamma in 5 of 5
    before. With several objectives the prior alone (ideal anchor, 3 seeds, 40 trials) moved
    CarSideImpact 0.562 -> 0.592, VehicleSafety 0.823 -> 0.845, DTLZ2 0.653 -> 0.565, and
    with the reference anchor it beat Gamma on CarSideImpact (0.756 against 0.605) and
    VehicleSafety (0.920 against 0.890) but not on DTLZ2 (0.405 against 0.722):
    docs/benchmarks.md.

    ``scalarization``: how Eq. 7 turns the objectives into one value (``_reward``):
    ``"hypervolume"`` (default), Eq. 7-8 from a reference point averaged over
    :data:`N_HV_WEIGHTS` directions quasi-uniform on the sphere (each scalarization raised to
    the power m), an estimate of the expected hypervolume improvement; ``"reference"``, one
    such direction drawn per trial (its average over trials targets hypervolume); or
    ``"ideal"``, the paper's and ParEGO's Chebyshev from the ideal point with weights uniform
    on the simplex. With one objective all three are the normalised loss. Against one
    direction per trial (3 seeds, docs/benchmarks.md) the average raised the median
    hypervolume after 25 trials on all 8 suite problems (BraninCurrin 0.852 -> 0.937, DTLZ2
    0.253 -> 0.302, CarSideImpact 0.664 -> 0.700; ConstrainedBraninCurrin and DiscBrake by
    less than 0.002), for 1.3-2x the time per suggestion.

    The reference point is ``reference_point`` (in the losses' units) if given (without
    ``loss_bounds`` the losses are then normalised from their best observed values to it: on
    VehicleSafety, seed 0, 50 trials, the problem's reference point gave 0.934 with the
    observed range as the normalisation), else the upper row of ``loss_bounds`` if given, else
    the nadir of the feasible front and of the front of all points (the elementwise worse),
    plus 10 % of the observed range (BoTorch's ``infer_reference_point`` takes 10 % of the
    front's range, which is zero for a one-point front); with no feasible point, the worst
    observed losses plus 10 %. A loss observed at one value ``v`` only has range ``|v|`` (1 if
    ``v = 0``) here, so its reference is ``v + 0.1 |v|`` (0.1 for ``v = 0``). With one
    direction per trial (3 seeds, 40 trials) the feasible front's nadir, against the worst
    observed losses plus 10 %, gave
    BraninCurrin 0.917 against 0.698 and ConstrainedBraninCurrin 0.983 against 0.948, but
    C2DTLZ2 0.299 against 0.665: its few feasible points sat on one of its three feasible
    pieces of front, the reference next to them, and the proposals stayed on that piece (seed
    0, "hypervolume": 22 of 30 at f1 = 0, all at f1 <= 0.28). The front of all points,
    infeasible ones included, shows how far the trade-off reaches: with it C2DTLZ2 rose from
    0.312 to 0.736 ("hypervolume"); ConstrainedBraninCurrin (0.989, 0.988) and DiscBrake
    (10.926 both) stayed, and unconstrained problems do not see the difference.
    """
    from botorch.sampling.qmc import NormalQMCEngine
    from botorch.utils.sampling import sample_hypersphere
    from botorch.utils.sampling import sample_simplex

    check_choice("prior_mean", prior_mean, PRIOR_MEANS)
    check_choice("scalarization", scalarization, SCALARIZATIONS)
    m = losses.shape[1]
    feasible = (cons <= 0).all(1)  # (n,)
    given_bounds = loss_bounds is not None
    if loss_bounds is None:  # from the best observed value to the reference or the worst one
        high = losses.max(0).values if reference_point is None else reference_point  # (m,)
        loss_bounds = torch.stack([losses.min(0).values, high.to(losses)])  # (2, m)
    low, high = loss_bounds.min(0).values, loss_bounds.max(0).values  # (m,) each
    # A loss observed at one value only (e.g. every start-up network at chance) has no range:
    # its unit is then the value's own size (1 for a value of 0), so that the 10 % margin of
    # the reference point below is 10 % of the value, whatever units the loss is in.
    size = torch.where(low != 0, low.abs(), torch.ones_like(low))  # (m,)
    scale = torch.where(high > low, high - low, size)  # (m,)
    cons_scale = cons.abs().amax(0, keepdim=True).clamp_min(1e-300)  # (1, c)
    Y = torch.cat([(losses - low) / scale, cons / cons_scale], 1)  # (n, m + c)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        models, gp_states = _surrogate.fit_gps(
            X,
            Y,
            previous=previous,
            zero_mean=prior_mean == "zero" or (prior_mean, m) == ("auto", 1),
            lengthscale_prior="gamma" if m == 1 else "dim_scaled",
        )
    posterior = _surrogate.CachedPosterior(models, pending=pending, device=device)

    front = _pareto.feasible_pareto_mask(losses, feasible)  # (n,)
    reference = None
    if scalarization in ("reference", "hypervolume"):
        # The reference point in the GPs' units (losses on [0, 1] over the observed range):
        # the user's upper bounds (1), else the worst value of each loss on the feasible front
        # or on the front of all points, feasible or not, plus 10 % of the observed range
        # (the worst observed value plus 10 % with no feasible point: 1.1, or 0.1 for a loss
        # of zero range). Measured against the worst observed value plus 10 % (Optuna's
        # GPSampler's choice) and the feasible front alone: see the docstring.
        worst = torch.ones(m, dtype=Y.dtype) if given_bounds else Y[:, :m].amax(0) + 0.1
        reference = worst.float().to(device)  # (m,)
        if reference_point is not None:
            reference = ((reference_point - low) / scale).float().to(device)
        elif not given_bounds and bool(front.any()):
            everyone = (  # (n,) the front of all points; the same front when all are feasible
                front
                if bool(feasible.all())
                else _pareto.feasible_pareto_mask(losses, torch.ones_like(feasible))
            )
            nadir = torch.maximum(Y[front, :m].amax(0), Y[everyone, :m].amax(0))  # (m,)
            reference = (nadir.float() + 0.1).to(device)  # float32 as measured
        if scalarization == "reference" or m == 1:
            weights = sample_hypersphere(m, seed=seed, dtype=torch.float32)[0].abs()  # (m,)
            scalarize = _reward.reference_chebyshev(weights.to(device), reference, rho=rho)
        else:
            weights = sample_hypersphere(  # (K, m)
                m, n=N_HV_WEIGHTS, qmc=True, seed=seed, dtype=torch.float32
            ).abs()
            scalarize = _reward.hypervolume_scalarizations(weights.to(device), reference)
    else:
        weights = sample_simplex(m, seed=seed, dtype=torch.float32)[0]  # (m,)
        unit = torch.stack([torch.zeros(m), torch.ones(m)]).to(device)  # (2, m)
        scalarize = _reward.chebyshev(weights.to(device), unit, rho=rho)
    best: float | torch.Tensor | None = None
    if bool(feasible.any()):
        # Eq. 8's best over the feasible observations and the believed values (posterior
        # means) of running trials predicted feasible: otherwise parallel workers, whose
        # "hypervolume" rewards are alike, would all aim at the same gain.
        known = Y[feasible, :m].to(device=device, dtype=torch.float32)  # (n', m)
        if pending is not None and len(pending) > 0:
            believed = posterior(pending.to(device=device, dtype=torch.float32))[0]  # (p, m + c)
            known = torch.cat([known, believed[(believed[:, m:] <= 0).all(1), :m]])
        best = scalarize(known).amax(0)  # ([K])
        best = float(best) if best.dim() == 0 else best
    base_samples = None  # one objective: the expectation of Eq. 8 in closed form
    if m > 1:
        base_samples = NormalQMCEngine(d=m, seed=seed).draw(n_qmc_samples)  # (S, m)
        assert base_samples is not None  # draw() returns None only with out= given
        base_samples = base_samples.to(device=device, dtype=torch.float32)
    reward = _reward.make_reward(
        posterior,
        n_objectives=m,
        base_samples=base_samples,
        scalarize=scalarize,
        best=best,
        penalty=penalty,
    )
    starts = _pareto.start_states(X, front, n_states=n_policies, seed=seed)  # (<= L, D)
    if len(starts) < n_policies:
        extra = _reward_weighted_starts(reward, n_policies - len(starts), X.shape[1], seed=seed)
        starts = torch.cat([starts.to(extra), extra])
    return Acquisition(
        posterior=posterior,
        reward=reward,
        starts=starts.to(device=device, dtype=torch.float32),
        weights=weights,
        reference=reference,
        gp_states=gp_states,
        loss_offset=low,
        loss_scale=scale,
    )


def _reward_weighted_starts(
    reward: RewardFn, n: int, dim: int, *, seed: int
) -> torch.Tensor:  # (n, D) float64 on the CPU
    """``n`` start states drawn from a scrambled Sobol set with probability ∝ exp(z-scored
    reward): BoTorch's ``initialize_q_batch``, its heuristic for acquisition-optimizer starts.

    Why not the best observed points off the front (the earlier top-up): with one objective
    the front is one point and the runners-up sit in the same basin, so all policies started
    within 0.1 of the unit cube of each other and never reached the region where the reward
    peaked (``studies.passino``: 0 of 5 seeds found the global minimum; 3 of 10 with this
    top-up, multi-objective hypervolume unchanged; docs/benchmarks.md).
    """
    from botorch.optim.initializers import initialize_q_batch
    from torch.quasirandom import SobolEngine

    raw = SobolEngine(dim, scramble=True, seed=seed).draw(_N_RAW, dtype=torch.float64)  # (R, D)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        values = reward(raw).double().cpu()  # (R,)
        chosen, _ = initialize_q_batch(raw, values, n)
    return chosen
