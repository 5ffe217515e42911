from __future__ import annotations

import torch

from optuna_ars._ars import ARSConfig
from optuna_ars._ars import _rollout
from optuna_ars._ars import _StateStats
from optuna_ars._ars import ars_update
from optuna_ars._ars import init_policies
from optuna_ars._ars import train_and_propose

TARGET = torch.tensor([0.8, 0.3])


def _toy_reward(x: torch.Tensor) -> torch.Tensor:  # (B, 2) -> (B,), best at TARGET
    return -((x - TARGET) ** 2).sum(-1)


def _cfg(**kw: float) -> ARSConfig:
    base = dict(
        n_directions=4000,
        top_fraction=1.0,
        horizon=2,
        step_size=0.02,
        noise=1e-3,
        hidden=8,
        n_iterations=10,
        max_step=0.2,
    )
    base.update(kw)
    return ARSConfig(**base)  # type: ignore[arg-type]


def test_ars_update_follows_the_true_gradient_of_the_return() -> None:
    # On a differentiable toy, the ARS step (all directions, small ν) estimates
    # α/σ_R · 2ν · ∇J(θ), so it must point along the autograd gradient.
    g = torch.Generator().manual_seed(0)
    cfg = _cfg()
    starts = torch.tensor([[0.2, 0.6]])
    theta = init_policies(1, 2, cfg.hidden, generator=g)
    theta[:, -2:] = 0.1  # move away from the flat tanh centre of the output
    stats = _StateStats(starts, cfg.max_step)

    th = theta.clone().requires_grad_(True)
    J = _toy_reward(_rollout(th[:, None], starts, stats, cfg).reshape(-1, 2)).sum()
    (grad,) = torch.autograd.grad(J, th)

    step = ars_update(_toy_reward, theta, starts, stats, cfg, generator=g) - theta
    cos = torch.nn.functional.cosine_similarity(step.flatten(), grad.flatten(), dim=0)
    assert cos > 0.9, float(cos)


def test_training_moves_the_proposal_towards_the_optimum() -> None:
    g = torch.Generator().manual_seed(1)
    starts = torch.tensor([[0.1, 0.9], [0.5, 0.5]])
    cfg = _cfg(n_directions=200, top_fraction=0.1, horizon=4, noise=0.02, n_iterations=30)
    before = _toy_reward(starts)
    p = train_and_propose(_toy_reward, starts, cfg, generator=g)
    assert p.rollouts.shape == (2, 4, 2) and p.rewards.shape == (2, 4)
    assert p.x.min() >= 0 and p.x.max() <= 1
    assert p.reward > float(before.max())
    assert torch.allclose(p.x, TARGET, atol=0.1), p.x
    assert p.reward == float(p.rewards.max())


def test_untrained_policies_stand_still_and_rollouts_stay_in_bounds() -> None:
    g = torch.Generator().manual_seed(2)
    starts = torch.tensor([[0.0, 1.0], [0.5, 0.5]])
    p = train_and_propose(_toy_reward, starts, _cfg(n_iterations=0), generator=g)
    torch.testing.assert_close(p.rollouts, starts[:, None].expand(2, 2, 2))
    g = torch.Generator().manual_seed(3)
    p = train_and_propose(lambda x: x.sum(-1), starts, _cfg(step_size=1.0), generator=g)
    assert p.rollouts.min() >= 0.0 and p.rollouts.max() <= 1.0


def test_known_points_are_not_proposed_again() -> None:
    starts = torch.tensor([[0.1, 0.9], [0.5, 0.5]])
    cfg = _cfg(n_directions=50, horizon=3, n_iterations=5)
    free = train_and_propose(_toy_reward, starts, cfg, generator=torch.Generator().manual_seed(4))
    assert not free.repeat
    # The same training with its best state already known: the next best state is proposed.
    p = train_and_propose(
        _toy_reward, starts, cfg, generator=torch.Generator().manual_seed(4), known=free.x[None]
    )
    assert not p.repeat and (p.x - free.x).abs().max() > 1e-3
    assert p.reward == float(p.rewards.flatten().sort().values[-2])
    later = free.avoiding(free.x[None])  # the same choice made after training (workers)
    assert later.x.tolist() == p.x.tolist() and later.policy == p.policy and not later.repeat
    # Every rollout state known: flagged as a repeat.
    p = train_and_propose(
        _toy_reward,
        starts,
        cfg,
        generator=torch.Generator().manual_seed(4),
        known=free.rollouts.flatten(0, 1),
    )
    assert p.repeat
