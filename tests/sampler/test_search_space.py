from __future__ import annotations

import math

import numpy as np
import pytest

from optuna_ars._search_space import ParamSpec
from optuna_ars._search_space import SearchSpace

SPECS = [
    ParamSpec(low=-1.0, high=3.0),
    ParamSpec(low=1e-5, high=1e-1, log=True),
    ParamSpec(low=1.0, high=100.0, log=True, step=1.0),  # log-int
    ParamSpec(low=3.0, high=9.0, step=2.0),  # int with step
    ParamSpec(n_choices=3),
]


def test_round_trip_keeps_every_valid_value() -> None:
    space = SearchSpace(SPECS)
    assert space.dim == 1 + 1 + 1 + 1 + 3
    values = np.array(
        [
            [-1.0, 1e-5, 1.0, 3.0, 0.0],
            [3.0, 1e-1, 100.0, 9.0, 2.0],
            [0.25, 3e-3, 37.0, 5.0, 1.0],
        ]
    )
    X = space.encode(values)
    assert X.min() >= 0.0 and X.max() <= 1.0
    assert X[:, 4:].sum(1).tolist() == [1.0, 1.0, 1.0]  # one-hot
    for row, x in zip(values, X, strict=True):
        np.testing.assert_allclose(space.decode(x), row, rtol=1e-9)


def test_decode_rounds_to_the_grid_and_takes_the_argmax() -> None:
    space = SearchSpace(SPECS)
    x = np.array([0.5, 0.5, 0.5, 0.52, 0.1, 0.7, 0.3])
    v = space.decode(x)
    assert v[2] == round(v[2])  # log-int is an integer
    assert v[3] in (3.0, 5.0, 7.0, 9.0)
    assert v[4] == 1.0
    assert math.isclose(v[1], math.sqrt(1e-5 * 1e-1), rel_tol=1e-9)  # log midpoint


def test_every_grid_value_owns_an_equal_share_of_the_unit_interval() -> None:
    spec = ParamSpec(low=3.0, high=9.0, step=2.0)
    u = (np.arange(4000) + 0.5) / 4000
    counts = np.unique([spec.from_unit(x) for x in u], return_counts=True)[1]
    assert counts.tolist() == [1000, 1000, 1000, 1000]


@pytest.mark.parametrize(
    "kwargs",
    [dict(low=2.0, high=1.0), dict(low=0.0, high=1.0, log=True), dict(n_choices=-1)],
)
def test_invalid_spec_names_the_bad_value(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"low|n_choices"):
        ParamSpec(**kwargs)  # type: ignore[arg-type]


MIXED = SearchSpace(
    [
        ParamSpec(low=0.0, high=1.0),  # continuous
        ParamSpec(low=1, high=9, step=2),  # int 1, 3, ..., 9
        ParamSpec(n_choices=3),
        ParamSpec(low=1, high=64, log=True, step=1),  # log int
    ]
)


def test_snap_moves_points_to_what_they_decode_to_and_keeps_continuous_bits() -> None:
    x = np.random.default_rng(0).random((2, 5, MIXED.dim))  # (2, 5, D)
    snapped = MIXED.snap(x)
    assert snapped.shape == x.shape
    np.testing.assert_array_equal(snapped[..., 0], x[..., 0])  # bit for bit
    for point, s in zip(x.reshape(-1, MIXED.dim), snapped.reshape(-1, MIXED.dim), strict=True):
        assert MIXED.decode(s) == MIXED.decode(point)
        np.testing.assert_allclose(s[1:], MIXED.encode(np.array(MIXED.decode(point)))[0][1:])
    np.testing.assert_array_equal(MIXED.snap(snapped), snapped)  # idempotent


def test_neighbours_are_one_discrete_move_away() -> None:
    point = MIXED.encode(np.array([0.3, 3.0, 1.0, 1.0]))  # (1, D)
    near = MIXED.neighbours(point)
    np.testing.assert_array_equal(near[:, 0], point[0, 0])  # the continuous one stays
    got = {tuple(round(v, 9) for v in MIXED.decode(q)) for q in near}
    assert len(near) == len(got) == 5
    assert got == {
        (0.3, 1.0, 1.0, 1.0),
        (0.3, 5.0, 1.0, 1.0),
        (0.3, 3.0, 0.0, 1.0),
        (0.3, 3.0, 2.0, 1.0),
        (0.3, 3.0, 1.0, 2.0),  # 1 is the log int's low: no move down
    }


def test_sample_enumerates_a_small_space_and_snaps_in_a_large_one() -> None:
    small = SearchSpace([ParamSpec(low=0, high=9, step=1), ParamSpec(n_choices=3)])
    assert small.n_configurations == 30
    every = small.sample(30, np.random.default_rng(0))
    assert len({tuple(small.decode(p)) for p in every}) == 30
    drawn = small.sample(29, np.random.default_rng(0))  # fewer than the space: drawn
    assert len(drawn) == 29
    np.testing.assert_array_equal(small.snap(drawn), drawn)
    assert MIXED.n_configurations == float("inf")
