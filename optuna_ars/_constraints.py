"""Constraints in both of Optuna's stored forms.

Optuna 5 stores ``trial.set_constraint(key, value)`` as trial system attrs ``constraints:<key>``;
optuna-dashboard 0.21 reads only the older form, one system attr ``constraints`` holding a
list (what samplers' ``constraints_func`` wrote), so without it every trial shows as feasible
there. :func:`write_list_form` adds the list, in key order; ``trial.constraints`` then holds
each constraint twice (by key and by position ``"0"``, ``"1"``, ...), which is why readers that
need each constraint once use :func:`named`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from optuna.storages import BaseStorage
    from optuna.trial import FrozenTrial

LIST_KEY = "constraints"  # optuna.study._constrained_optimization._CONSTRAINTS_KEY
_PREFIX = f"{LIST_KEY}:"


def named(trial: FrozenTrial) -> dict[str, float]:
    """The trial's constraints once each: the keyed ones when it has any, else the list form
    (a trial written by a ``constraints_func``)."""
    keyed = {
        k[len(_PREFIX) :]: float(v) for k, v in trial.system_attrs.items() if k.startswith(_PREFIX)
    }
    return keyed or trial.constraints


def write_list_form(storage: BaseStorage, trial: FrozenTrial) -> None:
    """Store the keyed constraints of a running ``trial`` as the list optuna-dashboard reads
    (values in key order); nothing when it has no keyed constraint or already has a list."""
    if LIST_KEY in trial.system_attrs:
        return
    keyed = named(trial)
    if keyed:
        storage.set_trial_system_attr(trial._trial_id, LIST_KEY, [keyed[k] for k in sorted(keyed)])
