from __future__ import annotations

import torch

from optuna_ars._pareto import feasible_pareto_mask
from optuna_ars._pareto import start_states
from optuna_ars._startup import lhs_unit_value


def test_feasible_pareto_mask_ignores_infeasible_dominators() -> None:
    losses = torch.tensor([[0.0, 0.0], [1.0, 2.0], [2.0, 1.0], [3.0, 3.0]])
    feasible = torch.tensor([False, True, True, True])
    assert feasible_pareto_mask(losses, feasible).tolist() == [False, True, True, False]


def test_start_states_are_kmeans_centres_of_the_front() -> None:
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]])
    X = (centres.repeat_interleave(10, 0) + 0.01 * torch.randn(30, 2, generator=g)).double()
    front = torch.ones(30, dtype=torch.bool)
    S = start_states(X, front, n_states=3, seed=0)
    assert S.shape == (3, 2)
    # each true centre has a k-means centre within 0.02
    d = torch.cdist(centres.double(), S).min(1).values
    assert (d < 0.02).all(), d


def test_a_front_no_larger_than_the_ensemble_is_returned_whole() -> None:
    X = torch.arange(10.0).reshape(5, 2)
    front = torch.tensor([True, False, True, False, False])
    assert start_states(X, front, n_states=3, seed=0).tolist() == [X[0].tolist(), X[2].tolist()]
    assert len(start_states(X, torch.zeros(5, dtype=torch.bool), n_states=3, seed=0)) == 0


def test_lhs_rows_of_one_design_cover_every_stratum_once() -> None:
    n = 8
    rows = [lhs_unit_value(seed=3, param="x", trial_number=i, n_rows=n) for i in range(n)]
    assert sorted(int(u * n) for u in rows) == list(range(n))
    other = [lhs_unit_value(seed=3, param="y", trial_number=i, n_rows=n) for i in range(n)]
    assert rows != other  # columns are permuted independently
    again = [lhs_unit_value(seed=3, param="x", trial_number=i, n_rows=n) for i in range(n)]
    assert rows == again
