"""``report``: the feasible Pareto front of a stored study as text, plus PNG plots.

    python -m studies report --storage sqlite:///optuna_ars.db --study-name NAME --out DIR

Prints one row per feasible Pareto-optimal trial: its number, its objective values (named by
``study.metric_names``, else by the study user attr ``objectives``, else ``v0..vk``) and its
scalar user attrs such as ``flash_bytes`` (namespaced ones like ``ars:policy`` are left out).
Then writes under ``--out``:

* ``pareto_front.png`` — 2 or 3 objectives (Optuna's matplotlib plot; infeasible trials grey);
* ``hypervolume_history.png`` — 2 or more objectives. The reference point is the study user
  attr ``reference_point`` when it holds one finite value per objective (``studies compress``
  stores the target's limits there), else derived from the data: per objective, in
  minimisation form, the worst feasible value plus 10 % of the feasible range (plus 10 % of
  its magnitude, or 1, when the range is 0); it is printed with the plot;
* ``param_importances.png`` — with >= 2 complete trials, one bar group per objective
  (Optuna's default importance evaluator);
* ``optimization_history.png`` — single-objective studies, instead of the first two.

The hypervolume history is also saved into the study for optuna-dashboard (graph object
``hypervolume``; ``--no-dashboard`` leaves the study untouched). PNGs need ``matplotlib``, the
dashboard graph ``plotly``; without them the report says what is missing and goes on.

Exit codes: 0 done; 2 bad arguments, unknown storage file or unknown study (one line, no
traceback).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
import sys
from typing import Any
import warnings

import numpy as np
import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from studies.workers import make_storage
from studies.workers import storage_path

DEFAULT_STORAGE = "sqlite:///optuna_ars.db"
HYPERVOLUME_GRAPH_ID = "hypervolume"


class ReportError(Exception):
    """A problem with the arguments or the stored data: one line for the user."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``report`` options to a (sub)parser."""
    parser.add_argument(
        "--storage",
        default=DEFAULT_STORAGE,
        help=f"sqlite:///FILE, postgresql://..., or journal:FILE (default: {DEFAULT_STORAGE})",
    )
    parser.add_argument("--study-name", help="the study (default: the only study in the storage)")
    parser.add_argument(
        "--out", type=Path, help="folder for the PNG plots (default: reports/STUDY_NAME)"
    )
    parser.add_argument(
        "--no-plots", action="store_true", help="print the table only, write no files"
    )
    parser.add_argument(
        "--no-dashboard",
        action="store_true",
        help="do not save the hypervolume plot into the study for optuna-dashboard",
    )


def run(args: argparse.Namespace) -> int:
    """Print the report and write the plots; the exit code."""
    try:
        study = load(args.storage, args.study_name)
    except ReportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(pareto_table(study))
    if args.no_plots:
        return 0
    out = args.out if args.out is not None else Path("reports") / study.study_name
    for line in write_plots(study, out, dashboard=not args.no_dashboard):
        print(line)
    return 0


def load(storage: str, study_name: str | None) -> optuna.Study:
    """The stored study; :class:`ReportError` when the storage or the study is not there."""
    path = storage_path(storage)
    if path is not None and not path.is_file():  # do not create an empty database
        raise ReportError(f"no storage file {str(path)!r} (from --storage {storage!r})")
    try:
        store = make_storage(storage, heartbeat=False)
        names = [s.study_name for s in optuna.get_all_study_summaries(store)]
    except ValueError as err:
        raise ReportError(str(err)) from None
    except Exception as err:  # a database that cannot be reached or read
        raise ReportError(f"cannot open storage {storage!r}: {err!s:.300}") from None
    if study_name is None:
        if len(names) != 1:
            found = ", ".join(names) if names else "none"
            raise ReportError(f"--study-name is needed: studies in {storage!r}: {found}")
        study_name = names[0]
    if study_name not in names:
        found = ", ".join(names) if names else "none"
        raise ReportError(f"no study {study_name!r} in {storage!r} (studies there: {found})")
    return optuna.load_study(study_name=study_name, storage=store)


def value_names(study: optuna.Study) -> list[str]:
    """``study.metric_names``, else the study user attr ``objectives`` (a list of names, as
    ``compress`` writes it), else ``v0..vk``."""
    m = len(study.directions)
    names = study.metric_names or study.user_attrs.get("objectives")
    if isinstance(names, list) and len(names) == m and all(isinstance(n, str) for n in names):
        return list(names)
    return [f"v{i}" for i in range(m)]


def pareto_table(study: optuna.Study) -> str:
    """A header line and the feasible Pareto front, one trial a row, as aligned text."""
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    feasible = [t for t in complete if _feasible(t)]
    front = sorted(study.best_trials, key=lambda t: t.number) if complete else []
    head = (
        f"study {study.study_name!r}: {len(trials)} trials, {len(complete)} complete, "
        f"{len(feasible)} feasible; feasible Pareto front: {len(front)} trials"
    )
    if not front:
        return head
    names = value_names(study)
    attrs = sorted({k for t in front for k, v in t.user_attrs.items() if _is_plain_attr(k, v)})
    header = ["trial", *names, *attrs]
    rows = [
        [str(t.number), *(_fmt(v) for v in t.values), *(_fmt(t.user_attrs.get(k)) for k in attrs)]
        for t in front
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows]
    ]
    return "\n".join([head, *lines])


def reference_point(study: optuna.Study) -> list[float] | None:
    """The hypervolume reference point, in the study's own directions (module docstring)."""
    given = study.user_attrs.get("reference_point")
    if (
        isinstance(given, list)
        and len(given) == len(study.directions)
        and all(isinstance(v, int | float) and np.isfinite(v) for v in given)
    ):
        return [float(v) for v in given]
    feasible = [
        t.values
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if _feasible(t)
    ]
    if not feasible:
        return None
    sign = _signs(study)
    losses = np.asarray(feasible, dtype=float) * sign  # (n, m), minimisation form
    worst, best = losses.max(0), losses.min(0)
    span = worst - best
    margin = np.where(span > 0, 0.1 * span, np.maximum(0.1 * np.abs(worst), 1.0))
    return [float(v) for v in (worst + margin) * sign]


def write_plots(study: optuna.Study, out: Path, *, dashboard: bool) -> list[str]:
    """Write the PNGs (and the dashboard graph); lines saying what was written or skipped."""
    lines: list[str] = []
    m = len(study.directions)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    ref = reference_point(study) if m > 1 else None
    if m > 1:
        lines.append(
            "hypervolume reference point: "
            + (", ".join(_fmt(v) for v in ref) if ref else "none (no feasible trial)")
        )
    if dashboard and ref is not None:
        lines.append(_save_dashboard_graph(study, ref))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return [*lines, "PNG plots skipped: install matplotlib (pip install matplotlib)"]
    if not complete:
        return [*lines, "PNG plots skipped: no complete trial"]
    out.mkdir(parents=True, exist_ok=True)
    from optuna.visualization import matplotlib as ovm

    names = value_names(study)
    plots: list[tuple[str, Any]] = []
    if m == 1:
        plots.append(("optimization_history", lambda: ovm.plot_optimization_history(study)))
    if m in (2, 3):
        plots.append(("pareto_front", lambda: ovm.plot_pareto_front(study, target_names=names)))
    elif m > 3:
        lines.append(f"pareto_front.png skipped: {m} objectives (2 or 3 can be drawn)")
    if ref is not None:
        plots.append(("hypervolume_history", lambda: ovm.plot_hypervolume_history(study, ref)))
    if len(complete) >= 2:
        plots.append(("param_importances", lambda: _plot_importances(study, names)))
    else:
        lines.append("param_importances.png skipped: fewer than 2 complete trials")
    for name, draw in plots:
        path = out / f"{name}.png"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                ax = draw()
            figure = ax.figure if hasattr(ax, "figure") else ax
            figure.savefig(path, dpi=100, bbox_inches="tight")
            plt.close(figure)
            lines.append(f"wrote {path}")
        except (ValueError, RuntimeError, ZeroDivisionError) as err:
            lines.append(f"{path.name} skipped: {err!s:.200}")
    return lines


def _plot_importances(study: optuna.Study, names: Sequence[str]) -> Any:
    """Horizontal bars: one group per parameter, one bar per objective."""
    import matplotlib.pyplot as plt

    per_objective = []
    for i in range(len(names)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            per_objective.append(
                optuna.importance.get_param_importances(study, target=_value_getter(i))
            )
    params = sorted({p for imp in per_objective for p in imp})
    if not params:
        raise ValueError("no parameters to rank")
    fig, ax = plt.subplots(figsize=(6.4, 0.5 + 0.4 * len(params) * len(names)))
    height = 0.8 / len(names)
    y = np.arange(len(params))
    for i, (name, imp) in enumerate(zip(names, per_objective, strict=True)):
        ax.barh(y + i * height, [imp.get(p, 0.0) for p in params], height, label=name)
    ax.set_yticks(y + 0.4 - height / 2, params)
    ax.set_xlabel("importance")
    ax.set_title(f"Parameter importances ({study.study_name})")
    ax.legend(loc="best")
    return fig


def _value_getter(i: int) -> Any:
    return lambda t: t.values[i]


def _save_dashboard_graph(study: optuna.Study, ref: list[float]) -> str:
    try:
        from optuna_dashboard import save_plotly_graph_object

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            figure = optuna.visualization.plot_hypervolume_history(study, ref)
    except ImportError as err:
        return f"dashboard graph skipped: {err.name or err} is not installed"
    save_plotly_graph_object(study, figure, graph_object_id=HYPERVOLUME_GRAPH_ID)
    return f"saved graph {HYPERVOLUME_GRAPH_ID!r} into the study for optuna-dashboard"


def _signs(study: optuna.Study) -> np.ndarray:
    return np.array([1.0 if d == StudyDirection.MINIMIZE else -1.0 for d in study.directions])


def _feasible(trial: FrozenTrial) -> bool:
    return all(c <= 0 for c in trial.constraints.values())


def _is_plain_attr(key: str, value: Any) -> bool:
    return ":" not in key and key != "worker" and isinstance(value, int | float | str | bool)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m studies.report``: the same as ``python -m studies report``."""
    parser = argparse.ArgumentParser(
        prog="python -m studies.report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
