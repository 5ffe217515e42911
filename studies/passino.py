"""Paper Sec. 4.3: the 2-D Passino problem with a misleading prior, and its figures.

J(x, y) (formula in ``../shared/seeds/README.md``) on [0, 30]^2 is minimised; the global
minimum is about -3.987 at (15.0, 5.0). Each seed starts from 5 prior points drawn uniformly
in the flat corner [0, 4] x [26, 30], far from the minimum, then takes 35 more samples.
Success: the best value is within 0.05 of the global minimum. The figure (paper Fig. 4-5)
shows, for the first model-based suggestion of seed 0, the surrogate mean, the reward
landscape and the trained policies' rollouts from their start states.

    python -m studies.passino --samplers ars,botorch,gp --seeds 5 --out results/passino
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import statistics
import sys
from typing import Any
import warnings

import numpy as np
import optuna

from studies.benchmark import SAMPLERS
from studies.benchmark import make_sampler

# (a, s, cx, cy) of the ten Gaussian bumps (Passino 2005, "nutrient" profile).
_BUMPS = np.array(
    [
        (5, 0.1, 15, 20),
        (-2, 0.08, 20, 15),
        (3, 0.08, 25, 10),
        (2, 0.1, 10, 10),
        (-2, 0.5, 5, 10),
        (-4, 0.1, 15, 5),
        (-2, 0.5, 8, 25),
        (-2, 0.5, 21, 25),
        (2, 0.5, 25, 16),
        (2, 0.5, 5, 14),
    ]
)
GLOBAL_MIN = -3.987
N_PRIOR, N_MORE, TOLERANCE = 5, 35, 0.05
_DISTRIBUTIONS: dict[str, optuna.distributions.BaseDistribution] = {
    "x": optuna.distributions.FloatDistribution(0.0, 30.0),
    "y": optuna.distributions.FloatDistribution(0.0, 30.0),
}


def passino(x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray:
    """J(x, y) = Σ_i a_i exp(-s_i ((x - cx_i)^2 + (y - cy_i)^2)), broadcasting."""
    a, s, cx, cy = (c.reshape((-1,) + (1,) * np.ndim(x)) for c in _BUMPS.T)
    return (a * np.exp(-s * ((x - cx) ** 2 + (y - cy) ** 2))).sum(0)


def prior_points(seed: int) -> np.ndarray:
    """The 5 prior points ``(5, 2)``, uniform in the flat corner [0, 4] x [26, 30]."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(0, 4, N_PRIOR), rng.uniform(26, 30, N_PRIOR)], 1)


def _objective(trial: optuna.Trial) -> float:
    return float(passino(trial.suggest_float("x", 0, 30), trial.suggest_float("y", 0, 30)))


def run_one(sampler_name: str, seed: int) -> dict[str, Any]:
    """5 prior points in the flat corner, then 35 samples; the best-so-far curve."""
    sampler = make_sampler(sampler_name, seed, n_startup=N_PRIOR)
    study = optuna.create_study(sampler=sampler)
    for x, y in prior_points(seed):
        study.add_trial(
            optuna.trial.create_trial(
                params={"x": float(x), "y": float(y)},
                distributions=_DISTRIBUTIONS,
                value=float(passino(x, y)),
            )
        )
    study.optimize(_objective, n_trials=N_MORE)
    values = [float(t.value) for t in study.trials if t.value is not None]
    best = np.minimum.accumulate(values).tolist()
    return {
        "sampler": sampler_name,
        "seed": seed,
        "best": best,
        "points": [[t.params["x"], t.params["y"]] for t in study.trials],
        "success": best[-1] <= GLOBAL_MIN + TOLERANCE,
    }


def plot_landscape(path: Path, *, seed: int = 0) -> None:
    """Surrogate mean, reward and rollouts at the first model-based suggestion (Fig. 4-5)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from optuna_ars import _ars
    from optuna_ars._acquisition import build_acquisition

    pts = prior_points(seed)  # (5, 2)
    X = torch.as_tensor(pts / 30.0)
    losses = torch.as_tensor(passino(pts[:, 0], pts[:, 1]))[:, None]  # (5, 1)
    acq = build_acquisition(
        X,
        losses,
        torch.zeros(N_PRIOR, 0, dtype=torch.float64),
        pending=None,
        loss_bounds=None,
        n_policies=5,
        n_qmc_samples=32,
        rho=0.005,
        penalty=1e-3,
        seed=seed,
        device=torch.device("cpu"),
    )
    sampler = make_sampler("ars", seed, n_startup=N_PRIOR)
    proposal = _ars.train_and_propose(
        acq.reward,
        acq.starts,
        sampler._config,  # type: ignore[attr-defined]  # ARSSampler's defaults
        generator=torch.Generator().manual_seed(seed),
    )
    g = torch.linspace(0, 1, 121)
    grid = torch.stack(torch.meshgrid(g, g, indexing="xy"), -1).reshape(-1, 2)  # (G, 2)
    with torch.no_grad():
        mean = acq.predicted_losses(grid)[:, 0].reshape(121, 121).numpy()
        reward = acq.reward(grid).reshape(121, 121).numpy()
    xs = g.numpy() * 30
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    truth = passino(*np.meshgrid(xs, xs, indexing="xy"))
    panels = [("objective J", truth), ("GP posterior mean", mean), ("reward (Eq. 8)", reward)]
    for ax, (title, field) in zip(axes, panels, strict=True):
        im = ax.contourf(xs, xs, field, levels=30, cmap="viridis")
        fig.colorbar(im, ax=ax)
        ax.scatter(pts[:, 0], pts[:, 1], c="white", edgecolors="k", label="prior points")
        for start, path_ in zip(acq.starts, proposal.rollouts, strict=True):
            line = torch.cat([start[None], path_]).numpy() * 30  # (H + 1, 2)
            ax.plot(line[:, 0], line[:, 1], "-o", c="red", ms=3)
        x_new = proposal.x.numpy() * 30
        ax.scatter([x_new[0]], [x_new[1]], marker="*", s=200, c="orange", label="proposal")
        ax.scatter([15.0], [5.0], marker="x", s=80, c="k", label="global minimum")
        ax.set_title(title)
    axes[0].legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studies.passino", description=__doc__)
    # qNParEGO needs two or more objectives (its Chebyshev weights fail on one); with one,
    # ParEGO reduces to expected improvement of the objective itself: BoTorchSampler's
    # default there, LogEI, is the baseline.
    parser.add_argument("--samplers", default="ars,botorch,gp")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("results/passino"))
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG figures")
    args = parser.parse_args(argv)
    samplers = args.samplers.split(",")
    for s in samplers:
        if s not in SAMPLERS:
            parser.error(f"unknown sampler {s!r}; choose from {', '.join(SAMPLERS)}")
    if args.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {args.seeds}")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore")
    args.out.mkdir(parents=True, exist_ok=True)
    runs = []
    for s in samplers:
        for seed in range(args.seeds):
            runs.append(run := run_one(s, seed))
            print(f"# {s} seed {seed}: best {run['best'][-1]:.4f}", file=sys.stderr, flush=True)
    print("sampler | successes | best after 10 / 20 / 40 trials (median)")
    summary = {}
    for s in samplers:
        group = [r for r in runs if r["sampler"] == s]
        wins = sum(r["success"] for r in group)
        med = [statistics.median(r["best"][i - 1] for r in group) for i in (10, 20, 40)]
        summary[s] = {"successes": wins, "seeds": len(group), "median_best": med}
        print(f"{s} | {wins}/{len(group)} | " + " / ".join(f"{v:.3f}" for v in med))
    (args.out / "passino.json").write_text(json.dumps({"summary": summary, "runs": runs}))
    if not args.no_plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for i, s in enumerate(samplers):
            for r in (r for r in runs if r["sampler"] == s):
                ax.plot(r["best"], c=f"C{i}", alpha=0.6, label=s if r["seed"] == 0 else None)
        ax.axhline(GLOBAL_MIN, c="k", ls="--", label="global minimum")
        ax.set_xlabel("trial")
        ax.set_ylabel("best J so far")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.out / "passino_best.png", dpi=100)
        plt.close(fig)
        plot_landscape(args.out / "passino_landscape.png")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
