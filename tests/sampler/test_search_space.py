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
