"""Issue 6, cases 8-11: the sampler under hostile histories and injected numerical faults.

Each case: a history (setup), a fault, and the outcome that must hold: no exception into
``optimize``/``ask``, proposals finite and inside their distributions, fallbacks announced by
a warning and recorded in the trial (``ars:fallback``).
"""

from __future__ import annotations

from collections.abc import Callable
import threading
from typing import Any
import warnings

import numpy as np
import optuna
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution
from optuna.trial import TrialState
import pytest

from optuna_ars._surrogate import SurrogateWarning
from tests.sampler.test_optuna_suite import small_sampler

optuna.logging.set_verbosity(optuna.logging.WARNING)

SPACE = {"x": FloatDistribution(-1.0, 2.0), "k": IntDistribution(1, 9, step=2)}


def _history(values: Callable[[int, dict[str, Any]], tuple[float, float]], n: int = 8) -> Any:
    """A 2-objective study whose first ``n`` trials report ``values(i, params)``."""
    study = optuna.create_study(
        directions=["minimize", "maximize"],
        sampler=small_sampler(n_startup_trials=n - 3, seed=1),
    )
    for i in range(n):
        t = study.ask(SPACE)
        study.tell(t, values(i, t.params))
    return study


def _ask_modelled(study: optuna.Study) -> optuna.trial.FrozenTrial:
    t = study.ask(SPACE)
    frozen = study._storage.get_trial(t._trial_id)
    assert -1.0 <= t.params["x"] <= 2.0 and np.isfinite(t.params["x"])
    assert t.params["k"] in (1, 3, 5, 7, 9)
    return frozen


HOSTILE: dict[str, Callable[[int, dict[str, Any]], tuple[float, float]]] = {
    "nan_and_inf": lambda i, p: (
        [float("nan"), float("inf"), -float("inf")][i % 3] if i < 3 else p["x"],
        float(p["k"]),
    ),
    "all_equal": lambda i, p: (1.0, 1.0),
    "scale_1e300": lambda i, p: (1e300 * (1 + p["x"]), -1e300 * p["k"]),
    "spread_1e-12": lambda i, p: (1.0 + 1e-12 * p["x"], 5.0 - 1e-12 * p["k"]),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_values_give_finite_in_bounds_modelled_proposals(case: str) -> None:
    study = _history(HOSTILE[case])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the random fallback would warn
        trial = _ask_modelled(study)
    predicted = trial.user_attrs["ars:predicted_values"]
    assert trial.user_attrs.get("ars:fallback") in (None, "unseen")  # modelled, not random
    assert np.isfinite(predicted).all()
    if case in ("scale_1e300", "spread_1e-12"):
        # The model's scaling did not collapse: predictions lie near the observed range.
        done = np.array([t.values for t in study.get_trials(states=(TrialState.COMPLETE,))])
        lo, hi = done.min(0), done.max(0)
        span = hi - lo
        assert ((predicted >= lo - span) & (predicted <= hi + span)).all(), (predicted, lo, hi)


def test_eight_duplicate_points() -> None:
    study = optuna.create_study(sampler=small_sampler(n_startup_trials=8, seed=2))
    for _ in range(8):
        study.enqueue_trial({"x": 0.5, "k": 3})
    study.optimize(
        lambda t: t.suggest_float("x", -1, 2) ** 2 + t.suggest_int("k", 1, 9, step=2), 8
    )
    assert len({(t.params["x"], t.params["k"]) for t in study.trials}) == 1
    trial = _ask_modelled(study)
    assert "ars:policy" in trial.user_attrs and "ars:fallback" not in trial.user_attrs


@pytest.mark.parametrize("stored", [False, True])
def test_gp_fit_failures_fall_back_with_a_warning_each_time(
    monkeypatch: pytest.MonkeyPatch, stored: bool
) -> None:
    import botorch.fit

    study = _history(lambda i, p: (p["x"] ** 2, float(p["k"])))
    if not stored:  # the same trials without the GP hyperparameters the history stored
        trials, study = study.trials, optuna.create_study(directions=study.directions)
        study.add_trials(trials)
    study.sampler = small_sampler(n_startup_trials=5, seed=1)  # no warm start in memory
    calls = {"n": 0}

    def failing_fit(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        raise RuntimeError(f"injected fit failure {calls['n']}")

    monkeypatch.setattr(botorch.fit, "fit_gpytorch_mll", failing_fit)
    for k in range(3):  # defaults the first time unless stored, the previous ones after that
        with pytest.warns(SurrogateWarning, match="injected fit failure") as record:
            trial = _ask_modelled(study)
        fallbacks = {str(w.message).split("; using ")[-1] for w in record}
        expected = "default ones." if k == 0 and not stored else "previous hyperparameters."
        assert fallbacks == {expected}
        assert "ars:policy" in trial.user_attrs  # the model was still used
        study.tell(trial.number, (0.0, 0.0))
    assert calls["n"] == 3 * 2  # every fit of both objectives was attempted and failed


def test_cholesky_failure_falls_back_to_a_random_point(monkeypatch: pytest.MonkeyPatch) -> None:
    study = _history(lambda i, p: (p["x"] ** 2, float(p["k"])))

    import linear_operator.utils.cholesky
    from linear_operator.utils.errors import NotPSDError

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise NotPSDError("injected: not positive definite")

    monkeypatch.setattr(linear_operator.utils.cholesky, "psd_safe_cholesky", broken)
    with pytest.warns(RuntimeWarning, match="using a random point"):
        trial = _ask_modelled(study)
    assert trial.user_attrs["ars:fallback"] == "random"


def test_mixed_history_uses_complete_trials_over_the_common_space() -> None:
    study = optuna.create_study(sampler=small_sampler(n_startup_trials=4, seed=5))
    full = {**SPACE, "extra": FloatDistribution(0, 1)}
    for i in range(6):
        t = study.ask(full if i % 2 else SPACE)
        study.tell(t, t.params["x"] ** 2)
    study.tell(study.ask(full), state=TrialState.FAIL)
    study.tell(study.ask(full), state=TrialState.PRUNED)
    t = study.ask()  # a partial trial: only x suggested, then failed
    t.suggest_float("x", -1.0, 2.0)
    study.tell(t, state=TrialState.FAIL)
    # The intersection of the COMPLETE trials is {x, k}: both are modelled; 'extra' is not.
    assert set(study.sampler.infer_relative_search_space(study, study.trials[0])) == {"x", "k"}
    trial = _ask_modelled(study)
    assert "ars:policy" in trial.user_attrs


def _same_seed_history(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``_history`` with every trial's seed fixed: then two proposals differ only because the
    sampler sees the other trials' points (per-trial seeds alone would already differ)."""
    study = _history(lambda i, p: (p["x"] ** 2, float(p["k"])))
    monkeypatch.setattr(study.sampler, "_trial_seed", lambda trial: 7)
    return study


def test_running_trials_points_are_not_proposed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # Four asks in a row, none told: each later ask must see the earlier ones as running.
    # The GP cache is emptied before each ask (as in a fresh worker), so that with the same
    # seed and history only the running trials can change the proposal.
    study = _same_seed_history(monkeypatch)
    proposals = []
    for _ in range(4):
        study.sampler._gp_cache.clear()
        t = study.ask(SPACE)
        proposals.append((t.params["x"], t.params["k"]))
        assert study._storage.get_trial(t._trial_id).user_attrs.get("ars:fallback") != "repeat"
    assert len(set(proposals)) == 4


def test_threads_get_distinct_proposals(monkeypatch: pytest.MonkeyPatch) -> None:
    # One sampler shared by four threads asking at once, every trial with the same seed.
    study = _same_seed_history(monkeypatch)
    proposals: list[tuple[float, int]] = []
    lock = threading.Lock()

    def worker() -> None:
        t = study.ask(SPACE)
        with lock:
            proposals.append((t.params["x"], t.params["k"]))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(set(proposals)) == 4
