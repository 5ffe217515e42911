"""Pareto utilities and the policies' start states (Algorithm 1, "Select initial states")."""

from __future__ import annotations

import torch


def feasible_pareto_mask(losses: torch.Tensor, feasible: torch.Tensor) -> torch.Tensor:
    """Mask of the feasible Pareto front: ``(n, m)`` losses, ``(n,)`` bool -> ``(n,)`` bool."""
    from botorch.utils.multi_objective.pareto import is_non_dominated

    mask = torch.zeros(len(losses), dtype=torch.bool)
    idx = feasible.nonzero().squeeze(-1)
    if len(idx) > 0:
        mask[idx] = is_non_dominated(-losses[idx], deduplicate=True)
    return mask


def start_states(
    X: torch.Tensor,  # (n, D) observed points
    front: torch.Tensor,  # (n,) bool: the feasible Pareto front
    score: torch.Tensor,  # (n,) higher is better: ranks points outside the front
    *,
    n_states: int,
    seed: int,
) -> torch.Tensor:
    """``L`` start states: k-means centres of the front in parameter space (scikit-learn).

    A front with fewer than ``L`` points is used whole, topped up with the best-scoring other
    points; fewer than ``L`` points in all gives fewer states.
    """
    from sklearn.cluster import KMeans

    P = X[front]
    if len(P) > n_states:
        km = KMeans(n_clusters=n_states, n_init=4, random_state=seed).fit(P.numpy())
        return torch.as_tensor(km.cluster_centers_, dtype=X.dtype)
    rest = (~front).nonzero().squeeze(-1)
    order = rest[torch.argsort(score[rest], descending=True)]
    extra = X[order[: n_states - len(P)]]
    return torch.cat([P, extra])
