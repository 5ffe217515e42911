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
    *,
    n_states: int,
    seed: int,
) -> torch.Tensor:  # (min(L, |front|), D)
    """Start states on the front: its ``L`` k-means centres in parameter space (scikit-learn),
    or the whole front when it has ``L`` points or fewer (the caller tops it up)."""
    from sklearn.cluster import KMeans

    P = X[front]
    if len(P) <= n_states:
        return P
    km = KMeans(n_clusters=n_states, n_init=4, random_state=seed).fit(P.numpy())
    return torch.as_tensor(km.cluster_centers_, dtype=X.dtype)
