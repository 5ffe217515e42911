"""``report``: the feasible Pareto front of a stored study as text, plus PNG plots.

    python -m studies report --storage sqlite:///optuna_ars.db --study-name NAME --out DIR

Prints one row per feasible Pareto-optimal trial, at most 120 characters wide: its number, its
objective values (named by ``study.metric_names``, which carry the units, else by the study
user attr ``objectives``, else ``v0..vk``) and those of its scalar user attrs that repeat no
value (accuracies first; namespaced ones like ``ars:policy`` are left out) as fit; a line
names the attrs left out. Networks at chance level (study user attr ``chance_accuracy``, which
``studies compress`` writes) are not rows; a line says how many. Then writes under ``--out``:

* ``pareto_front.png`` — 2 or 3 objectives (Optuna's matplotlib plot; infeasible trials grey);
* ``hypervolume_history.png`` — 2 or more objectives: the feasible trials' hypervolume divided
  by the volume of the box from the ideal corner to the reference point (0 to 1). The
  reference point is the study user attr ``reference_point`` when it holds one finite value
  per objective (``studies compress`` stores the target's limits there), else derived from
  the data: per objective, in minimisation form, the worst feasible value plus 10 % of the
  feasible range (plus 10 % of its magnitude, or 1, when the range is 0). The ideal corner is
  the study user attr ``ideal_point`` (``compress``: 0 error, 0 bytes, 0 FLOPs), else the best
  feasible value of each objective. Both are printed with the plot, and the axis label says
  which ideal corner it is;
* ``param_importances.png`` — with >= 2 complete trials: a heat map, one row per parameter
  (the 30 most important), one column per objective (Optuna's default importance evaluator);
* ``optimization_history.png`` — single-objective studies, instead of the first two.

The hypervolume history is also saved into the study for optuna-dashboard (graph object
``hypervolume``, its title saying how many trials it covers; ``--no-dashboard`` leaves the
study untouched; ``studies compress`` saves it again at the end of every run). PNGs need
``matplotlib``, the dashboard graph ``plotly``; without them the report says what is missing
and goes on.

Exit codes: 0 done; 2 bad arguments, unknown storage file or unknown study (one line, no
traceback).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
import sys
import textwrap
from typing import Any
from typing import TypeGuard
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
CHANCE_ATTR = "chance_accuracy"
TABLE_WIDTH = 120
MAX_IMPORTANCE_ROWS = 30


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


def pareto_table(study: optuna.Study, *, width: int = TABLE_WIDTH) -> str:
    """A header line and the feasible Pareto front, one trial a row, as aligned text.

    Columns: the trial, its values (named by :func:`value_names`), then its plain user attrs
    that repeat no value column (accuracies first, int8 before float), as many as fit in
    ``width`` characters; a line names those left out. Networks at chance level
    (:func:`at_chance`) are left out of the rows, and a line says how many."""
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    feasible = [t for t in complete if _feasible(t)]
    front = sorted(study.best_trials, key=lambda t: t.number) if complete else []
    shown = [t for t in front if not at_chance(study, t)]
    head = (
        f"study {study.study_name!r}: {len(trials)} trials, {len(complete)} complete, "
        f"{len(feasible)} feasible; feasible Pareto front: {len(front)} trials"
    )
    notes = [chance_note(study, len(front) - len(shown))] if len(shown) < len(front) else []
    if not shown:
        return "\n".join([head, *notes])
    columns = [("trial", [str(t.number) for t in shown])]
    columns += [
        (name, [_fmt(t.values[i]) for t in shown]) for i, name in enumerate(value_names(study))
    ]
    attrs = {k for t in shown for k, v in t.user_attrs.items() if _is_plain_attr(k, v)}
    repeats = {k for k in attrs if all(t.user_attrs.get(k) in t.values for t in shown)}
    left_out = []
    for key in sorted(attrs - repeats, key=lambda k: ("accuracy" not in k, "float" in k, k)):
        column = (key, [_fmt(t.user_attrs.get(key)) for t in shown])
        if _table_width([*columns, column]) <= width:
            columns.append(column)
        else:
            left_out.append(key)
    widths = [max(len(c) for c in [name, *cells]) for name, cells in columns]
    rows = [[name for name, _ in columns], *zip(*(cells for _, cells in columns), strict=True)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    if left_out:
        lines += textwrap.wrap(
            f"user attrs not shown (optuna-dashboard has them): {', '.join(left_out)}", width
        )
    return "\n".join([head, *lines, *notes])


def _table_width(columns: list[tuple[str, list[str]]]) -> int:
    return sum(max(len(c) for c in [name, *cells]) for name, cells in columns) + 2 * (
        len(columns) - 1
    )


def at_chance(study: optuna.Study, trial: FrozenTrial) -> bool:
    """Whether the network of ``trial`` is no better than guessing: its accuracy (1 - its
    first value) at most the study user attr ``chance_accuracy`` (``studies compress``
    stores the training split's majority-class rate there). Never, without that attr."""
    chance = study.user_attrs.get(CHANCE_ATTR)
    if not isinstance(chance, int | float) or trial.values is None:
        return False
    return 1.0 - trial.values[0] <= chance + 1e-9


def chance_note(study: optuna.Study, hidden: int) -> str:
    """The line that says how many front networks :func:`at_chance` left out, and why."""
    chance = study.user_attrs[CHANCE_ATTR]
    return (
        f"{hidden} network{'s' if hidden != 1 else ''} at chance level not shown (val accuracy "
        f"<= {chance:.3f}, the training split's majority-class rate)"
    )


def reference_point(study: optuna.Study) -> list[float] | None:
    """The hypervolume reference point, in the study's own directions (module docstring)."""
    given = study.user_attrs.get("reference_point")
    if _well_formed(given, study):
        return [float(v) for v in given]
    losses = _feasible_losses(study)  # (n, m)
    if losses is None:
        return None
    sign = _signs(study)
    worst, best = losses.max(0), losses.min(0)
    span = worst - best
    margin = np.where(span > 0, 0.1 * span, np.maximum(0.1 * np.abs(worst), 1.0))
    return [float(v) for v in (worst + margin) * sign]


def write_plots(study: optuna.Study, out: Path, *, dashboard: bool) -> list[str]:
    """Write the PNGs (and the dashboard graph); lines saying what was written or skipped."""
    lines: list[str] = []
    m = len(study.directions)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    box = hypervolume_box(study) if m > 1 else None
    ref = None if box is None else box.reference
    if m > 1:
        lines.append(
            "hypervolume reference point: "
            + (", ".join(_fmt(v) for v in ref) if ref else "none (no feasible trial)")
        )
    if box is not None:
        lines.append(
            f"hypervolume normalised by the box from {box.ideal_is} "
            f"({', '.join(map(_fmt, box.ideal))}) to the reference point"
        )
    if dashboard and box is not None:
        lines.append(save_dashboard_graph(study, box))
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
    if box is not None:
        plots.append(("hypervolume_history", lambda: _plot_hypervolume(study, box)))
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
    """A heat map, one row per parameter (the ``MAX_IMPORTANCE_ROWS`` most important ones by
    their largest importance), one column per objective, the importances written in."""
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
    table = np.array([[imp.get(p, 0.0) for imp in per_objective] for p in params])  # (P, m)
    order = np.argsort(-table.max(1), kind="stable")[:MAX_IMPORTANCE_ROWS]
    table, params = table[order], [params[i] for i in order]
    fig, ax = plt.subplots(figsize=(3.5 + 1.6 * len(names), 1.5 + 0.3 * len(params)))
    image = ax.imshow(table, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    for (row, col), value in np.ndenumerate(table):
        ax.text(
            col,
            row,
            f"{value:.2f}",
            ha="center",
            va="center",
            fontsize=8,
            color="white" if value < 0.5 else "black",
        )
    ax.set_xticks(range(len(names)), [n.replace(" (", "\n(") for n in names], fontsize=8)
    ax.set_yticks(range(len(params)), params, fontsize=8)
    fig.colorbar(image, ax=ax, label="importance (per objective, sums to 1)")
    total = len({p for imp in per_objective for p in imp})
    shown = f", the {len(params)} most important of {total}" if total > len(params) else ""
    ax.set_title(f"Parameter importances ({study.study_name}{shown})", fontsize=10)
    return fig


def _plot_hypervolume(study: optuna.Study, box: HypervolumeBox) -> Any:
    import matplotlib.pyplot as plt

    numbers, history = hypervolume_history(study, box)
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    ax.step(numbers, history, where="post", marker=".")
    ax.set_xlabel("trial")
    ax.set_ylabel(box.axis_label, fontsize=9)
    ax.set_ylim(0.0, max(1e-9, max(history, default=0.0)) * 1.05)
    ax.set_title(box.title(study, numbers), fontsize=9)
    ax.grid(alpha=0.3)
    return fig


def _value_getter(i: int) -> Any:
    return lambda t: t.values[i]


def save_dashboard_graph(study: optuna.Study, box: HypervolumeBox | None = None) -> str:
    """Save the normalised hypervolume history into ``study`` for optuna-dashboard (graph
    object ``hypervolume``, replaced each time); a line saying what was done."""
    box = box if box is not None else hypervolume_box(study)
    if box is None:
        return "dashboard graph skipped: no feasible trial"
    try:
        from optuna_dashboard import save_plotly_graph_object
        import plotly.graph_objects as go
    except ImportError as err:
        return f"dashboard graph skipped: {err.name or err} is not installed"
    numbers, history = hypervolume_history(study, box)
    figure = go.Figure(go.Scatter(x=numbers, y=history, mode="lines+markers", line_shape="hv"))
    figure.update_layout(
        title=box.title(study, numbers),
        xaxis_title="trial",
        yaxis_title=box.axis_label.replace("\n", "<br>"),
    )
    save_plotly_graph_object(study, figure, graph_object_id=HYPERVOLUME_GRAPH_ID)
    return (
        f"saved graph {HYPERVOLUME_GRAPH_ID!r} ({len(numbers)} complete trials) into the study "
        "for optuna-dashboard"
    )


@dataclass(frozen=True, kw_only=True)
class HypervolumeBox:
    """The box hypervolume is normalised by, in the study's own directions: from ``ideal``
    (what it is: ``ideal_is``) to ``reference``."""

    ideal: list[float]
    reference: list[float]
    ideal_is: str

    @property
    def axis_label(self) -> str:
        return f"hypervolume / volume of the box\nfrom {self.ideal_is}\nto the reference point"

    def title(self, study: optuna.Study, numbers: Sequence[int]) -> str:
        last = f", up to trial {numbers[-1]}" if numbers else ""
        return f"Hypervolume history of {study.study_name!r}: {len(numbers)} complete trials{last}"


def hypervolume_box(study: optuna.Study) -> HypervolumeBox | None:
    """The reference point (:func:`reference_point`) and the ideal corner: the study user
    attr ``ideal_point`` when it holds one finite value per objective (``studies compress``:
    0 error, 0 bytes, 0 FLOPs), else the best feasible value of each objective. ``None``
    without a reference point (no feasible trial) or with one no better than the ideal."""
    ref = reference_point(study)
    if ref is None:
        return None
    given = study.user_attrs.get("ideal_point")
    if _well_formed(given, study):
        ideal, what = [float(v) for v in given], "the ideal point stored with the study"
    else:
        losses = _feasible_losses(study)  # (n, m)
        if losses is None:
            return None
        ideal = [float(v) for v in losses.min(0) * _signs(study)]
        what = "the best feasible values"
    if not ((np.array(ref) - np.array(ideal)) * _signs(study) > 0).all():
        return None
    return HypervolumeBox(ideal=ideal, reference=ref, ideal_is=what)


def hypervolume_history(study: optuna.Study, box: HypervolumeBox) -> tuple[list[int], list[float]]:
    """``(trial numbers, hypervolume after each)`` over the complete trials in number order:
    the feasible points' hypervolume inside ``box`` divided by the box's volume (0 to 1)."""
    from optuna._hypervolume import compute_hypervolume

    sign = _signs(study)
    low, high = np.array(box.ideal) * sign, np.array(box.reference) * sign  # minimisation form
    numbers, history, points = [], [], []
    hv = 0.0
    for t in sorted(
        study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)), key=lambda t: t.number
    ):
        unit = (np.asarray(t.values, dtype=float) * sign - low) / (high - low)
        if _feasible(t) and (unit < 1.0).all():
            points.append(np.maximum(unit, 0.0))
            hv = float(compute_hypervolume(np.array(points), np.ones(len(unit))))
        numbers.append(t.number)
        history.append(hv)
    return numbers, history


def _well_formed(given: Any, study: optuna.Study) -> TypeGuard[list[float]]:
    """One finite number per objective."""
    return (
        isinstance(given, list)
        and len(given) == len(study.directions)
        and all(isinstance(v, int | float) and np.isfinite(v) for v in given)
    )


def _feasible_losses(study: optuna.Study) -> np.ndarray | None:
    """The complete feasible trials' values in minimisation form ``(n, m)``; ``None``: none."""
    feasible = [
        t.values
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if _feasible(t)
    ]
    return np.asarray(feasible, dtype=float) * _signs(study) if feasible else None


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
