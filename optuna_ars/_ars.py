"""An ensemble of competing MLP policies trained by Augmented Random Search (ARS V2-t).

Paper: Algorithm 1 and Eq. 3-6; ARS V2-t is Mania et al. (2018), "Simple random search of
static linear policies is competitive for reinforcement learning". There is no maintained
library implementation of ARS that evaluates thousands of perturbed MLPs as one batched
tensor program over a custom environment, so it is written here.

Choices the paper leaves open (measured in ``studies``; see ``docs/benchmarks.md``):

* **State**: the current point ``x`` in the unit-cube encoding of the search space, normalised
  per policy by running mean and standard deviation of all states visited in training so far
  (ARS "V2"); the prior before any visit is mean ``x_0``, standard deviation ``max_step``.
* **Action**: a bounded move ``a = max_step * tanh(MLP(s))`` added to ``x``; the new state is
  clipped to the unit cube, which is how bounds are kept. ``max_step`` (δ) is the largest move
  of one coordinate per step; 0.25 lets a policy cross the cube in an H = 4 rollout (0.5 was
  lower on BraninCurrin on 5 of 5 seeds, 0.1 level; DTLZ2 scattered more than δ moved it).
* **Policy**: ``Linear(D, hidden) -> tanh -> Linear(hidden, D)`` (two linear layers, hidden 64
  in the paper). The output layer starts at zero (θ_0 = 0: the initial policy stands still);
  the first layer starts random, because with both layers at zero a perturbation ν·φ changes
  the action only at second order in ν and ARS would see no signal through it.
* **Return of a rollout**: the sum of the per-step rewards of the ``H`` states it visits
  (Algorithm 1: "the summed reward ... of 2N rollouts over the horizon H").
* **Iterations per trial**: a fixed number (``n_iterations``) of ARS updates per suggestion,
  20 by default: 5 took a third of the time but left the 7-D problems short (after 50 trials
  CarSideImpact lower on 5 of 5 seeds, Penicillin on 4 of 5), 50 took 2-2.3× the time and was
  no better on BraninCurrin or DTLZ2, 40 lifted the medians of VehicleSafety (0.915 to 0.919)
  and CarSideImpact (0.793 to 0.807) after 50 trials for 1.4-1.8× the time.
* **Proposal**: the best state of the trained policies' rollouts (Eq. 5). Adding every
  update's 16 best perturbed rollout states per policy as candidates (the same reward,
  maximised harder) found Passino's minimum in 10 of 10 seeds against 8 and lifted
  ConstrainedBraninCurrin, but collapsed DTLZ2 (median after 50 trials 0.284 against 0.731):
  its wide inferred reference pays for states clipped to a bound, which the harder search finds.
* **No repeats**: a rollout state within ``min_distance`` (max-norm, unit cube) of an
  observed or pending point is not proposed: re-evaluating a known point teaches a
  deterministic objective nothing, yet Eq. 8 favours it once expected improvement is tiny
  everywhere (the penalty term is ~0 only at the incumbent). Measured in ``studies.passino``,
  where a study otherwise proposed the same point six times in a row.
* **Discrete parameters**: the policies train on the relaxed reward (the unit cube is
  continuous); the candidates are the rollout states ``snap``-ped to the configuration they
  decode to, and their rewards and the no-repeat test are taken there. Comparing relaxed
  states instead let a state 0.01 away from a known point pass and decode to it: with an int
  of 10 values and a categorical of 3, 16-19 of 20 modelled trials repeated a configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import replace

import torch

RewardFn = Callable[[torch.Tensor], torch.Tensor]  # (B, D) -> (B,)


@dataclass(frozen=True)
class ARSConfig:
    """The knobs of Algorithm 1 (paper symbols in brackets)."""

    n_directions: int  # [N] directions sampled per update
    top_fraction: float  # [k] share of the N directions used in the update (b = k N)
    horizon: int  # [H] steps per rollout
    step_size: float  # [α] learning rate
    noise: float  # [ν] exploration noise
    hidden: int  # hidden width of the MLP policies
    n_iterations: int  # ARS updates per suggestion
    max_step: float  # [δ] largest move of one coordinate per step

    @property
    def n_top(self) -> int:
        """[b] number of directions in an update."""
        return max(1, round(self.top_fraction * self.n_directions))


@dataclass
class Proposal:
    """Outcome of one training: the proposed point and what produced it."""

    x: torch.Tensor  # (D,) the best candidate of the best policy's rollout
    policy: int  # index l of that policy
    reward: float  # its reward
    starts: torch.Tensor  # (L, D)
    rollouts: torch.Tensor  # (L, H, D) rollouts of the trained policies
    candidates: torch.Tensor  # (L, H, D) their states snapped to configurations
    rewards: torch.Tensor  # (L, H) rewards of the candidates
    repeat: bool  # every candidate repeats a known point (x is the best of them)

    def avoiding(self, known: torch.Tensor | None, *, min_distance: float = 1e-3) -> Proposal:
        """The best candidate, by reward, not within ``min_distance`` (max-norm) of a
        ``known`` point ``(n, D)``; the best of all, with ``repeat``, when every one is."""
        L, H, d = self.candidates.shape
        flat = self.candidates.reshape(L * H, d)
        best = best_unknown(flat, self.rewards.reshape(-1), known, min_distance=min_distance)
        repeat = best is None
        policy, step = divmod(int(self.rewards.argmax()) if best is None else best, H)
        return replace(
            self,
            x=self.candidates[policy, step],
            policy=policy,
            reward=float(self.rewards[policy, step]),
            repeat=repeat,
        )


def best_unknown(
    points: torch.Tensor,  # (K, D)
    rewards: torch.Tensor,  # (K,)
    known: torch.Tensor | None,  # (n, D)
    *,
    min_distance: float,
) -> int | None:
    """Index of the best ``points`` by reward not within ``min_distance`` (max-norm) of a
    ``known`` point; ``None`` when every point is."""
    new = torch.ones_like(rewards, dtype=torch.bool)  # (K,)
    if known is not None and len(known):
        gap = (points[:, None, :] - known.to(points)).abs().amax(-1)  # (K, n)
        new = gap.amin(-1) > min_distance
    if not bool(new.any()):
        return None
    return int(rewards.masked_fill(~new, -torch.inf).argmax())


def _n_params(d: int, h: int) -> int:
    return h * d + h + d * h + d


def _act(theta: torch.Tensor, s: torch.Tensor, *, d: int, h: int, max_step: float) -> torch.Tensor:
    """Actions of many MLPs: ``theta (L, K, P)``, states ``(L, K, d)`` -> ``(L, K, d)``."""
    W1 = theta[..., : h * d].unflatten(-1, (h, d))  # (L, K, h, d)
    b1 = theta[..., h * d : h * d + h]  # (L, K, h)
    W2 = theta[..., h * d + h : -d].unflatten(-1, (d, h))  # (L, K, d, h)
    b2 = theta[..., -d:]  # (L, K, d)
    z = torch.tanh((W1 @ s.unsqueeze(-1)).squeeze(-1) + b1)  # (L, K, h)
    return max_step * torch.tanh((W2 @ z.unsqueeze(-1)).squeeze(-1) + b2)


class _StateStats:
    """Running mean and variance of visited states, one set per policy (ARS V2)."""

    def __init__(self, x0: torch.Tensor, prior_std: float) -> None:  # x0: (L, D)
        self.count = torch.ones(len(x0), 1, device=x0.device)  # (L, 1)
        self.total = x0.clone()  # (L, D)
        self.total_sq = x0**2 + prior_std**2  # (L, D)

    def update(self, xs: torch.Tensor) -> None:  # xs: (L, K, H, D)
        flat = xs.flatten(1, 2)  # (L, K*H, D)
        self.count += flat.shape[1]
        self.total += flat.sum(1)
        self.total_sq += (flat**2).sum(1)

    def mean_std(self) -> tuple[torch.Tensor, torch.Tensor]:  # 2 x (L, D)
        mean = self.total / self.count
        var = self.total_sq / self.count - mean**2
        return mean, var.clamp_min(1e-6).sqrt()


def _rollout(
    theta: torch.Tensor,  # (L, K, P)
    x0: torch.Tensor,  # (L, D)
    stats: _StateStats,
    cfg: ARSConfig,
) -> torch.Tensor:  # (L, K, H, D)
    L, K, _ = theta.shape
    d = x0.shape[-1]
    mean, std = (t.unsqueeze(1) for t in stats.mean_std())  # (L, 1, D)
    x = x0.unsqueeze(1).expand(L, K, d)
    states = []
    for _ in range(cfg.horizon):
        a = _act(theta, (x - mean) / std, d=d, h=cfg.hidden, max_step=cfg.max_step)
        x = (x + a).clamp(0.0, 1.0)
        states.append(x)
    return torch.stack(states, 2)


def _returns(reward: RewardFn, xs: torch.Tensor) -> torch.Tensor:
    """Per-step rewards of rollouts: ``(L, K, H, D) -> (L, K, H)``."""
    return reward(xs.flatten(0, 2)).reshape(xs.shape[:3])


def init_policies(L: int, d: int, hidden: int, *, generator: torch.Generator) -> torch.Tensor:
    """Flat parameters ``(L, P)``: random first layer, zero output layer (θ_0 = 0 action)."""
    device = generator.device
    theta = torch.zeros(L, _n_params(d, hidden), device=device)
    theta[:, : hidden * d] = torch.randn(L, hidden * d, generator=generator, device=device)
    theta[:, : hidden * d] /= d**0.5
    return theta


def ars_update(
    reward: RewardFn,
    theta: torch.Tensor,  # (L, P)
    starts: torch.Tensor,  # (L, D)
    stats: _StateStats,
    cfg: ARSConfig,
    *,
    generator: torch.Generator,
) -> torch.Tensor:  # (L, P)
    """One ARS V2-t update of every policy (Eq. 3, 4 and 6), all directions in one batch."""
    L, P = theta.shape
    N, b = cfg.n_directions, cfg.n_top
    phi = torch.randn(L, N, P, generator=generator, device=theta.device)  # (L, N, P)
    thetas = torch.cat([theta[:, None] + cfg.noise * phi, theta[:, None] - cfg.noise * phi], 1)
    xs = _rollout(thetas, starts, stats, cfg)  # (L, 2N, H, D)
    ret = _returns(reward, xs).sum(-1)  # (L, 2N)
    stats.update(xs)
    r_pos, r_neg = ret[:, :N], ret[:, N:]  # (L, N) each
    top = torch.maximum(r_pos, r_neg).topk(b, dim=1).indices  # (L, b)
    r_pos, r_neg = r_pos.gather(1, top), r_neg.gather(1, top)  # (L, b)
    sigma = torch.cat([r_pos, r_neg], 1).std(1, correction=0)  # (L,)
    scale = torch.where(sigma > 1e-12, cfg.step_size / (b * sigma), torch.zeros_like(sigma))
    phi_top = phi.gather(1, top.unsqueeze(-1).expand(L, b, P))  # (L, b, P)
    return theta + scale[:, None] * ((r_pos - r_neg).unsqueeze(-1) * phi_top).sum(1)


def train_and_propose(
    reward: RewardFn,
    starts: torch.Tensor,  # (L, D) in [0, 1]
    cfg: ARSConfig,
    *,
    generator: torch.Generator,
    known: torch.Tensor | None = None,  # (n, D) observed and pending points
    min_distance: float = 1e-3,
    snap: Callable[[torch.Tensor], torch.Tensor] | None = None,  # (L, H, D) -> (L, H, D)
) -> Proposal:
    """Train L policies from their start states by ARS, then propose by their rollouts (Eq. 5).

    Every update evaluates all L x N x 2 perturbed policies over H steps in one call of
    ``reward``. The proposal is the best state, by reward, of the rollouts of the trained
    policies that is not within ``min_distance`` of a ``known`` point; the policy that
    reached it is reported. ``snap`` (the search space's, for discrete parameters) moves the
    rollout states to the configurations they decode to before they are rewarded and compared.
    """
    L, d = starts.shape
    theta = init_policies(L, d, cfg.hidden, generator=generator)
    stats = _StateStats(starts, cfg.max_step)
    for _ in range(cfg.n_iterations):
        theta = ars_update(reward, theta, starts, stats, cfg, generator=generator)
    rollouts = _rollout(theta.unsqueeze(1), starts, stats, cfg).squeeze(1)  # (L, H, D)
    candidates = rollouts if snap is None else snap(rollouts)  # (L, H, D)
    rewards = _returns(reward, candidates.unsqueeze(1)).squeeze(1)  # (L, H)
    unchecked = Proposal(
        x=candidates[0, 0],
        policy=0,
        reward=0.0,
        starts=starts,
        rollouts=rollouts,
        candidates=candidates,
        rewards=rewards,
        repeat=False,
    )
    return unchecked.avoiding(known, min_distance=min_distance)
