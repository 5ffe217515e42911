"""The figures of docs/benchmarks.md, drawn from benchmark JSON files (``docs/data/``).

Reads several ``studies.benchmark`` JSON files at once (merged as ``studies.targets`` merges
them: each (problem, sampler, seed) once, the longer of two runs of the same seed) and writes
two PNGs into ``--out``:

* ``suite_hv.png``: hypervolume against trials, one panel per problem, per sampler the median
  over seeds (line) and its range, min to max (band); normalised by the problem's known
  maximum where BoTorch gives one, else (DiscBrake) in the problem's own units;
* ``suite_seconds.png``: seconds per suggestion against the trials before it (log scale), the
  model-based samplers' median over seeds after the start-up trials (TPE, NSGA-II and random
  search take a few hundredths of a second and are left out).

    python -m studies.figures --out docs/img
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from collections.abc import Sequence
import math
from pathlib import Path
import sys
from typing import TYPE_CHECKING
from typing import Any

import numpy as np

from studies.benchmark import make_problem
from studies.targets import load_runs

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

DEFAULT_FILES = (
    Path("docs/data/suite100_optuna51.json"),
    Path("docs/data/qlogehvi100_optuna51.json"),
    Path("docs/data/qlogehvi50_optuna51.json"),
)
LABELS = {
    "ars": "ARSSampler",
    "gp": "GPSampler",
    "botorch": "qLogEHVI (BoTorchSampler default)",
    "botorch-parego": "qNParEGO",
    "tpe": "TPE",
    "nsga2": "NSGA-II",
    "random": "random",
}
"""Legend names of the benchmark's short sampler names (others appear as they are)."""
MODEL_BASED = ("ars", "gp", "botorch", "botorch-parego")
"""The samplers of ``suite_seconds.png``."""

_DPI = 100
_PANEL = (4.6, 3.0)  # inches per panel (width, height)


def hv_label(problem: str) -> str:
    """The hypervolume axis label of ``problem``: normalised where its maximum is known."""
    try:
        normalised = make_problem(problem).max_hv > 0
    except NotImplementedError:  # BoTorch's answer for "no known maximum" (DiscBrake)
        normalised = False
    except AttributeError:  # not a problem of studies.benchmark: no unit to name
        return "hypervolume"
    return "hypervolume / max" if normalised else "hypervolume (problem's units)"


def _grid(n: int, legend_rows: int) -> tuple[Figure, list[Axes], float]:
    """A figure of ``n`` panels, about square, with room below for a legend of
    ``legend_rows`` rows; the panels in order, and the legend's share of the height."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    legend = 0.3 * legend_rows + 0.2  # inches
    height = _PANEL[1] * rows + legend
    fig, axes = plt.subplots(rows, cols, figsize=(_PANEL[0] * cols, height), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n]), legend / height


def _draw(
    runs: list[dict[str, Any]],
    path: Path,
    *,
    series: str,
    xlabel: str,
    ylabel: Mapping[str, str],
    n_startup: int = 0,
    log: bool = False,
) -> None:
    """One panel per problem, per sampler the median of ``run[series]`` over seeds against
    the trial number (from trial ``n_startup + 1``) and its min-max band; one legend below."""
    import matplotlib.pyplot as plt

    problems = list(dict.fromkeys(r["problem"] for r in runs))
    present = {r["sampler"] for r in runs}
    order = [*LABELS, *sorted(present - set(LABELS))]  # a sampler's colour is the same in each
    samplers = [s for s in order if s in present]
    colors = {s: f"C{order.index(s) % 10}" for s in samplers}
    ncol = min(len(samplers), 4)
    fig, axes, legend_share = _grid(len(problems), math.ceil(len(samplers) / ncol))
    handles: dict[str, Line2D] = {}  # legend name -> its first line
    for ax, problem in zip(axes, problems, strict=True):
        for sampler in samplers:
            group = [r[series] for r in runs if (r["problem"], r["sampler"]) == (problem, sampler)]
            if not group:
                continue
            n = min(map(len, group))
            values = np.array([g[n_startup:n] for g in group])  # (seeds, n - n_startup)
            if values.size == 0:
                continue
            trials = np.arange(n_startup + 1, n + 1)
            (line,) = ax.plot(trials, np.median(values, 0), color=colors[sampler], lw=1.6)
            ax.fill_between(
                trials, values.min(0), values.max(0), color=line.get_color(), alpha=0.15
            )
            handles.setdefault(LABELS.get(sampler, sampler), line)
        ax.set_title(problem)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel[problem])
        if log:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=ncol)
    fig.tight_layout(rect=(0.0, legend_share, 1.0, 1.0))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)


def plot_hv(runs: list[dict[str, Any]], path: Path) -> None:
    """HV against trials: one panel per problem, per sampler the median over seeds and its
    range (min to max)."""
    if not runs:
        raise ValueError(f"{path}: no runs to plot")
    labels = {p: hv_label(p) for p in dict.fromkeys(r["problem"] for r in runs)}
    _draw(runs, path, series="hv", xlabel="trials", ylabel=labels)


def plot_seconds(
    runs: list[dict[str, Any]],
    path: Path,
    *,
    n_startup: int = 10,
    samplers: Sequence[str] = MODEL_BASED,
) -> None:
    """Seconds per suggestion against trials (log scale) for ``samplers``, after the
    ``n_startup`` start-up trials: median over seeds and its range."""
    chosen = [r for r in runs if r["sampler"] in samplers and len(r["seconds"]) > n_startup]
    if not chosen:
        raise ValueError(f"{path}: no runs of {', '.join(samplers)} past trial {n_startup}")
    labels = dict.fromkeys((r["problem"] for r in chosen), "seconds per suggestion")
    _draw(
        chosen,
        path,
        series="seconds",
        xlabel="trial (its suggestion)",
        ylabel=labels,
        n_startup=n_startup,
        log=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m studies.figures",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "files",
        nargs="*",
        type=Path,
        default=list(DEFAULT_FILES),
        help="studies.benchmark JSON files (default: the suite's and qLogEHVI's in docs/data)",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder of the PNGs")
    parser.add_argument("--startup", type=int, default=10, help="start-up trials (seconds)")
    args = parser.parse_args(argv)
    if args.startup < 0:
        parser.error(f"--startup {args.startup}: must be >= 0")
    try:
        runs = load_runs(args.files)
        written = [args.out / "suite_hv.png", args.out / "suite_seconds.png"]
        plot_hv(runs, written[0])
        plot_seconds(runs, written[1], n_startup=args.startup)
    except ValueError as err:
        parser.error(str(err))
    print(f"{len(runs)} runs; wrote " + ", ".join(map(str, written)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
