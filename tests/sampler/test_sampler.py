from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState
import pytest

from optuna_ars import ARSSampler
from optuna_ars import _surrogate
from optuna_ars import named_constraints
from optuna_ars import sampler as sampler_module
from tests.sampler.test_optuna_suite import small_sampler

optuna.logging.set_verbosity(optuna.logging.WARNING)
_DISTRIBUTIONS: dict[str, optuna.distributions.BaseDistribution] = {
    "x": optuna.distributions.FloatDistribution(0.0, 1.0),
    "y": optuna.distributions.FloatDistribution(-2.0, 2.0),
    "k": optuna.distributions.IntDistribution(1, 64, log=True),
    "c": optuna.distributions.CategoricalDistribution(["a", "b", "c"]),
}


def _constrained_biobjective(trial: optuna.Trial) -> tuple[float, float]:
    x = trial.suggest_float("x", 0.0, 1.0)
    y = trial.suggest_float("y", -2.0, 2.0)
    k = trial.suggest_int("k", 1, 64, log=True)
    c = trial.suggest_categorical("c", ["a", "b", "c"])
    trial.set_constraint("budget", x + abs(y) - 1.5)  # <= 0 feasible
    bonus = {"a": 0.0, "b": 0.1, "c": 0.3}[c]
    return x + bonus + 0.01 * math.log(k), (1 - x) ** 2 + y**2


def test_constrained_smoke_study_with_two_workers() -> None:
    sampler = small_sampler(n_startup_trials=8, n_directions=64, n_iterations=5, seed=0)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    study.optimize(_constrained_biobjective, n_trials=25, n_jobs=2)
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(trials) == 25
    for t in trials:
        assert 0.0 <= t.params["x"] <= 1.0 and -2.0 <= t.params["y"] <= 2.0
        assert 1 <= t.params["k"] <= 64 and isinstance(t.params["k"], int)
        assert t.params["c"] in ("a", "b", "c")
    feasible_front = [t for t in study.best_trials if t.constraints["budget"] <= 0]
    assert feasible_front
    modelled = [t for t in trials if "ars:policy" in t.user_attrs]
    assert len(modelled) >= 25 - 8 - 2  # the rest: start-up design (2 may start concurrently)
    for t in modelled:
        assert 0 <= t.user_attrs["ars:policy"] < 2
        assert len(t.user_attrs["ars:predicted_values"]) == 2
        assert "ars:weights" not in t.user_attrs  # "hypervolume" averages 8 directions


@pytest.mark.parametrize(("scalarization", "norm"), [("reference", 2), ("ideal", 1)])
def test_one_drawn_weight_vector_is_recorded(scalarization: str, norm: int) -> None:
    sampler = small_sampler(n_startup_trials=4, scalarization=scalarization, seed=1)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    study.optimize(_constrained_biobjective, n_trials=7)
    modelled = [t for t in study.trials if "ars:policy" in t.user_attrs]
    assert len(modelled) == 3
    for t in modelled:
        weights = np.array(t.user_attrs["ars:weights"])
        assert (weights >= 0).all() and np.linalg.norm(weights, ord=norm) == pytest.approx(1.0)


def _min_max(trial: optuna.Trial) -> tuple[float, float]:
    x, y = trial.suggest_float("x", 0.0, 1.0), trial.suggest_float("y", 0.0, 1.0)
    return x + y, 10 * (1 - x) * y  # minimised, maximised


def test_reference_point_from_bounds_is_recorded_in_study_units() -> None:
    sampler = small_sampler(n_startup_trials=4, seed=2, objective_bounds=[(0, 2), (-1, 10)])
    study = optuna.create_study(directions=["minimize", "maximize"], sampler=sampler)
    study.optimize(_min_max, n_trials=6)
    modelled = [t for t in study.trials if "ars:policy" in t.user_attrs]
    assert len(modelled) == 2
    for t in modelled:  # the worse end of each bound: high when minimised, low when maximised
        assert t.user_attrs["ars:reference_point"] == pytest.approx([2.0, -1.0])


def test_given_reference_point_overrides_the_bounds_and_is_recorded() -> None:
    sampler = small_sampler(
        n_startup_trials=4, seed=2, objective_bounds=[(0, 2), (-1, 10)], reference_point=[3, 0.5]
    )
    study = optuna.create_study(directions=["minimize", "maximize"], sampler=sampler)
    study.optimize(_min_max, n_trials=6)
    modelled = [t for t in study.trials if "ars:policy" in t.user_attrs]
    assert len(modelled) == 2
    for t in modelled:
        assert t.user_attrs["ars:reference_point"] == pytest.approx([3.0, 0.5])


@pytest.mark.parametrize("name", ["reference_point", "objective_bounds"])
def test_one_entry_per_objective_is_a_clear_error(name: str) -> None:
    given = {"reference_point": [1.0], "objective_bounds": [(0.0, 1.0)]}[name]
    sampler = small_sampler(n_startup_trials=2, seed=0, **{name: given})
    study = optuna.create_study(directions=["minimize", "maximize"], sampler=sampler)
    study.optimize(_min_max, n_trials=2)  # the start-up design does not use it
    with pytest.raises(ValueError, match=f"{name} has 1 entries, the study 2 objectives"):
        study.optimize(_min_max, n_trials=1)
    assert study.trials[-1].state == optuna.trial.TrialState.FAIL  # recorded, nothing lost
    assert len([t for t in study.trials if t.state.name == "COMPLETE"]) == 2


def test_reference_point_without_bounds_lies_beyond_the_front() -> None:
    study = optuna.create_study(
        directions=["minimize", "maximize"], sampler=small_sampler(n_startup_trials=4, seed=2)
    )
    study.optimize(_min_max, n_trials=6)
    modelled = [t for t in study.trials if "ars:policy" in t.user_attrs]
    assert len(modelled) == 2
    for t in modelled:
        losses = np.array([u.values for u in study.trials[: t.number]]) * [1, -1]  # (n, 2)
        front = [v for v in losses if not any((w <= v).all() and (w < v).any() for w in losses)]
        expected = np.max(front, 0) + 0.1 * np.ptp(losses, 0)  # the nadir plus 10 % of range
        assert np.array(t.user_attrs["ars:reference_point"]) * [1, -1] == pytest.approx(
            expected, rel=1e-5
        )


def test_startup_trials_are_a_latin_hypercube() -> None:
    n = 6
    study = optuna.create_study(sampler=ARSSampler(n_startup_trials=n, seed=4))
    study.optimize(lambda t: t.suggest_float("x", 0, 6) + t.suggest_float("y", 0, 6), n_trials=n)
    for name in ("x", "y"):
        strata = sorted(int(t.params[name]) for t in study.trials)
        assert strata == list(range(n))


def test_seeded_single_objective_studies_are_reproducible() -> None:
    def run() -> list[float]:
        study = optuna.create_study(sampler=small_sampler(n_startup_trials=4, seed=7))
        study.optimize(lambda t: (t.suggest_float("x", -3, 3) - 1) ** 2, n_trials=8)
        return [t.params["x"] for t in study.trials]

    first, second = run(), run()
    assert first == second
    assert len(set(first)) == len(first)


def test_proposal_is_published_for_other_workers() -> None:
    long_name = "p" * 3000  # longer than one RDB attribute value
    space = {long_name: optuna.distributions.FloatDistribution(0, 1)}
    study = optuna.create_study(sampler=small_sampler(n_startup_trials=2, seed=1))
    for _ in range(2):
        study.tell(study.ask(space), 1.0)
    trial = study.ask()  # relative sampling runs lazily at the first suggest
    value = trial.suggest_float(long_name, 0, 1)
    frozen = study._storage.get_trial(trial._trial_id)
    chunks = [k for k in frozen.system_attrs if k.startswith("ars:relative_params:")]
    assert len(chunks) == 2
    assert sampler_module._published_params(frozen) == {long_name: value}
    # Published again (a worker stepping aside) with a shorter text: no stale chunk remains.
    short = {"x": optuna.distributions.FloatDistribution(0, 1)}
    space = sampler_module._search_space(short)
    written = sampler_module._publish(study, frozen, short, space, np.array([0.25]), 2)
    frozen = study._storage.get_trial(trial._trial_id)
    assert written == 1 and sampler_module._published_params(frozen) == {
        long_name: value,
        "x": 0.25,
    }


def test_running_trials_are_pending_points(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    original = sampler_module.ARSSampler._propose

    def spy(self: ARSSampler, *args: Any) -> Any:
        seen.append(args[3])  # pending parameter dicts
        return original(self, *args)

    monkeypatch.setattr(sampler_module.ARSSampler, "_propose", spy)
    space = {"x": optuna.distributions.FloatDistribution(0, 1)}
    study = optuna.create_study(sampler=small_sampler(n_startup_trials=3, seed=2))
    for _ in range(3):
        t = study.ask(space)
        study.tell(t, t.params["x"])
    a = study.ask(space)  # stays RUNNING
    study.ask(space)
    assert seen[0] == [] and seen[1] == [{"x": a.params["x"]}]


def test_failed_pruned_nan_and_inf_trials_are_handled() -> None:
    space = {"x": optuna.distributions.FloatDistribution(0, 1)}
    study = optuna.create_study(sampler=small_sampler(n_startup_trials=1, seed=3))
    study.tell(study.ask(space), state=TrialState.FAIL)
    study.tell(study.ask(space), state=TrialState.PRUNED)
    study.tell(study.ask(space), float("nan"))  # Optuna stores this as FAIL
    study.tell(study.ask(space), float("inf"))  # the only usable point, clipped
    t = study.ask(space)
    assert 0.0 <= t.params["x"] <= 1.0
    assert "ars:policy" in study._storage.get_trial(t._trial_id).user_attrs


def test_inconsistent_constraint_keys_are_a_clear_error() -> None:
    space = {"x": optuna.distributions.FloatDistribution(0, 1)}
    study = optuna.create_study(sampler=small_sampler(n_startup_trials=2))
    for key in ("a", "b"):
        t = study.ask(space)
        t.set_constraint(key, 0.0)
        study.tell(t, 1.0)
    with pytest.raises(ValueError, match=r"same constraint keys.*\['a'\].*\['b'\]"):
        study.ask(space)


def test_numerical_failure_falls_back_to_a_random_point(monkeypatch: pytest.MonkeyPatch) -> None:
    from linear_operator.utils.errors import NotPSDError

    from optuna_ars import _surrogate

    def broken(*args: object, **kwargs: object) -> None:
        raise NotPSDError("injected")

    monkeypatch.setattr(_surrogate, "CachedPosterior", broken)
    space = {"x": optuna.distributions.FloatDistribution(-5, 5)}
    study = optuna.create_study(sampler=small_sampler(n_startup_trials=2, seed=5))
    for _ in range(2):
        study.tell(study.ask(space), 0.0)
    with pytest.warns(RuntimeWarning, match="random point"):
        t = study.ask(space)
    assert -5 <= t.params["x"] <= 5
    assert study._storage.get_trial(t._trial_id).user_attrs["ars:fallback"] == "random"


def test_parameters_outside_the_shared_space_go_to_the_independent_sampler(
    caplog: pytest.LogCaptureFixture,
) -> None:
    study = optuna.create_study(sampler=small_sampler(n_startup_trials=2, seed=6))

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        if trial.number >= 2:
            trial.suggest_float(f"z{trial.number}", 0, 1)
        return x

    optuna.logging.enable_propagation()
    try:
        with caplog.at_level(logging.WARNING):
            study.optimize(objective, n_trials=4)
    finally:
        optuna.logging.disable_propagation()
    assert "'z3' in trial#3 is sampled independently" in caplog.text
    assert all(0 <= t.params["x"] <= 1 for t in study.trials)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_policies": 0}, "n_policies"),
        ({"n_directions": 2.5}, "n_directions"),
        ({"horizon": -1}, "horizon"),
        ({"top_fraction": 0.0}, "top_fraction"),
        ({"top_fraction": 1.5}, "top_fraction"),
        ({"step_size": float("nan")}, "step_size"),
        ({"noise": 0}, "noise"),
        ({"max_step": -0.1}, "max_step"),
        ({"penalty": -1.0}, "penalty"),
        ({"rho": float("inf")}, "rho"),
        ({"n_qmc_samples": 0}, "n_qmc_samples"),
        ({"n_startup_trials": True}, "n_startup_trials"),
        ({"seed": "zero"}, "seed"),
        ({"objective_bounds": [(1.0, 0.0)]}, "objective_bounds"),
        ({"reference_point": [0.0, float("nan")]}, "reference_point"),
        ({"reference_point": []}, "reference_point"),
        ({"reference_point": [1.0, 1.0], "scalarization": "ideal"}, "reference_point"),
        ({"device": "not-a-device"}, "device"),
        ({"scalarization": "nadir"}, "scalarization"),
        ({"prior_mean": "fitted"}, "prior_mean"),
    ],
)
def test_invalid_arguments_name_the_bad_value(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        ARSSampler(**kwargs)


@pytest.mark.parametrize("cuda", [True, False])
def test_default_device_is_cuda_when_present_else_cpu(
    monkeypatch: pytest.MonkeyPatch, cuda: bool
) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert ARSSampler()._device_name == ("cuda" if cuda else "cpu")
    assert ARSSampler(device="cpu")._device_name == "cpu"  # asked for: kept either way
    if not cuda:
        with pytest.raises(ValueError, match="'cuda:0' was asked for but CUDA"):
            ARSSampler(device="cuda:0")


@pytest.mark.parametrize("meanwhile", ["published", "evaluated"])
def test_a_point_another_worker_took_while_training_is_avoided(
    monkeypatch: pytest.MonkeyPatch, meanwhile: str
) -> None:
    import json

    from optuna_ars import _ars

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        x, y = trial.suggest_float("x", 0, 1), trial.suggest_float("y", 0, 1)
        return x + y, (1 - x) ** 2 + (1 - y) ** 2

    study = optuna.create_study(
        directions=["minimize", "minimize"], sampler=small_sampler(n_startup_trials=4, seed=0)
    )
    study.optimize(objective, n_trials=4)
    train = _ars.train_and_propose
    raced: list[dict[str, float]] = []

    def racing(*args: Any, **kwargs: Any) -> _ars.Proposal:
        proposal = train(*args, **kwargs)
        # another worker takes this very point while this one trains (unit cube = params):
        # it publishes it (still running), or has evaluated it already
        raced.append(dict(zip(["x", "y"], proposal.x.tolist(), strict=True)))
        if meanwhile == "published":
            other = study._storage.create_new_trial(study._study_id)
            point = json.dumps(raced[-1])
            study._storage.set_trial_system_attr(other, "ars:relative_params:0", point)
        else:
            unit = optuna.distributions.FloatDistribution(0, 1)
            study.add_trial(
                optuna.trial.create_trial(
                    params=raced[-1], distributions={"x": unit, "y": unit}, values=[1.0, 1.0]
                )
            )
        return proposal

    monkeypatch.setattr(_ars, "train_and_propose", racing)
    trial = study.ask()
    x, y = trial.suggest_float("x", 0, 1), trial.suggest_float("y", 0, 1)
    assert len(raced) == 1 and max(abs(x - raced[0]["x"]), abs(y - raced[0]["y"])) > 1e-3
    stored = study._storage.get_trial(trial._trial_id)
    assert "ars:policy" in stored.user_attrs  # the next best rollout state, not a random point
    assert stored.user_attrs["ars:stepped_aside"] is True
    assert json.loads(stored.system_attrs["ars:relative_params:0"]) == {"x": x, "y": y}


@pytest.mark.parametrize("directions", [["minimize"], ["minimize", "maximize"]])
def test_a_discrete_space_is_not_repeated_while_a_configuration_is_unevaluated(
    directions: list[str],
) -> None:
    # 5 ints x 3 categories = 15 configurations, 15 trials: every one evaluated once.
    def objective(trial: optuna.Trial) -> Any:
        i = trial.suggest_int("i", 0, 4)
        c = trial.suggest_categorical("c", ["a", "b", "c"])
        first = (i - 3) ** 2 + "abc".index(c)
        return first if len(directions) == 1 else (first, i * "abc".index(c))

    sampler = small_sampler(n_startup_trials=5, seed=0)
    study = optuna.create_study(directions=directions, sampler=sampler)
    study.optimize(objective, n_trials=15)
    assert len({(t.params["i"], t.params["c"]) for t in study.trials}) == 15
    modelled = [t for t in study.trials if "ars:predicted_values" in t.user_attrs]
    assert len(modelled) == 10  # no random fallback was needed


def test_constraints_are_also_stored_in_the_list_form_optuna_dashboard_reads() -> None:
    study = optuna.create_study(
        directions=["minimize", "minimize"], sampler=small_sampler(n_startup_trials=3, seed=0)
    )
    # Trials of an earlier run (or another sampler) with the keyed constraints only.
    for x in (0.2, 0.9, 0.5):
        study.add_trial(
            optuna.trial.create_trial(
                params={"x": x, "y": 0.0, "k": 2, "c": "a"},
                distributions=_DISTRIBUTIONS,
                values=[x, 1 - x],
                system_attrs={"constraints:budget": x - 0.6, "constraints:alpha": -1.0},
            )
        )

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        values = _constrained_biobjective(trial)
        trial.set_constraint("alpha", -2.0)
        return values

    study.optimize(objective, n_trials=3)  # the model reads old and new trials alike
    old, new = study.trials[:3], study.trials[3:]
    assert all("constraints" not in t.system_attrs for t in old)
    for t in new:
        # Key order: alpha, budget.
        assert t.system_attrs["constraints"] == [-2.0, t.system_attrs["constraints:budget"]]
        assert "ars:policy" in t.user_attrs  # proposed by the model, no fallback
        assert named_constraints(t) == {
            "alpha": -2.0,
            "budget": t.system_attrs["constraints:budget"],
        }


def test_a_new_sampler_warm_starts_from_the_stored_gp_hyperparameters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    study = optuna.create_study(
        directions=["minimize", "minimize"], sampler=small_sampler(n_startup_trials=4, seed=0)
    )
    study.optimize(_constrained_biobjective, n_trials=5)
    attrs = study._storage.get_study_system_attrs(study._study_id)
    key = (6, 3)  # x, y, log k, one-hot c (3) -> 6 inputs; 2 objectives + 1 constraint
    stored = sampler_module._load_gp_states(study, key)
    assert stored is not None and len(stored) == 3 and attrs["ars:gp_states:6x3:n"] >= 1
    seen: list[Any] = []
    real_fit = _surrogate.fit_gps

    def spy(*args: Any, previous: Any = None, **kwargs: Any) -> Any:
        seen.append(previous)
        return real_fit(*args, previous=previous, **kwargs)

    monkeypatch.setattr(_surrogate, "fit_gps", spy)
    study.sampler = small_sampler(n_startup_trials=4, seed=1)  # an empty in-process cache
    study.optimize(_constrained_biobjective, n_trials=2)
    first, second = seen
    assert [{k: v.tolist() for k, v in s.items()} for s in first] == [
        {k: v.tolist() for k, v in s.items()} for s in stored
    ]
    assert second is not None  # then the in-process cache
