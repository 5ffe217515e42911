"""Surrogate: one BoTorch GP per output, and a cached posterior for batched rollouts.

Fitting uses BoTorch (``SingleTaskGP`` with its ``Standardize`` outcome transform; inputs are
already in the unit cube) and ``fit_gpytorch_mll``. The kernel is a scaled ARD RBF with
Gamma(2, 0.15) on the outputscale and, on the lengthscales, BoTorch's dimension-scaled
LogNormal prior (``"dim_scaled"``, Hvarfner et al. 2024,
``get_covar_module_with_dim_scaled_prior``) or Gamma(3, 6) (``"gamma"``, mean 0.5, BoTorch's
default before 0.12); ``_acquisition`` takes Gamma with one objective, dim-scaled with
several (measured, below).

* The outputscale: BoTorch's current default has none, so the prior variance is that of the
  standardized data; a learned outputscale lets the posterior be more uncertain away from
  the data (Passino, 10 clustered points: standard deviation 0.74 against 0.32 far from
  them), so the reward explores (Passino successes 5/10 against 3/10, fitted constant mean).
* The lengthscale prior: Gamma(3, 6) keeps the lengthscales short; on the 7-D
  CarSideImpact its GPs predicted points
  near the bounds badly (R² 0.59-0.88 on 2 000 random points after 20 trials, against
  0.91-1.0), so the reward never went there and ARSSampler's hypervolume stayed near random
  search's. It fitted DTLZ2 and Passino's bumps better (DTLZ2: test log density per point
  1.82 against 0.05 up to a constant, 25 Sobol points). Choosing per fit by leave-one-out
  density (GPyTorch's ``LeaveOneOutPseudoLikelihood``) split the difference on the suite but
  found Passino's minimum in 3 of 5 seeds (this kernel: 4 of 5) at twice the fitting time.
  Measured in docs/benchmarks.md. Matérn-5/2 with Gamma priors gave 0.40 on DTLZ2 and 1/5 on
  Passino.

The prior mean is BoTorch's fitted constant, or zero in standardized units (the mean of the
observations; Optuna's GPSampler does this) when asked: see ``_acquisition`` for when.

Each output is fitted on its own: BoTorch's batched multi-output fit runs one joint L-BFGS-B
and took ~20 s for 4 outputs at n = 100 here, against ~3 s for four separate fits (and well
under 1 s warm-started from the previous trial's hyperparameters).

The ARS rollouts query the posterior at 10^4-10^5 points per update, where BoTorch's generic
``posterior`` path is too slow. ``CachedPosterior`` therefore factorizes the training
covariance once (float64, with the fitted hyperparameters) and answers queries with plain
batched matrix products in float32 on the chosen device; the kernel itself is still
evaluated by the fitted GPyTorch kernel module. Pending (running) points enter as a Kriging
believer: they join the training set with the posterior mean as their value.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any
import warnings

import torch

if TYPE_CHECKING:
    from botorch.models import SingleTaskGP


class SurrogateWarning(UserWarning):
    """The surrogate fell back to previous or default hyperparameters."""


def _hyperparameters(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    # Only the raw trainable hyperparameters: buffers hold data-dependent transforms.
    return {k: v.detach().clone() for k, v in model.named_parameters()}


LENGTHSCALE_PRIORS = ("dim_scaled", "gamma")


def _kernel(dim: int, lengthscale_prior: str) -> torch.nn.Module:
    """Scaled ARD RBF with a Gamma outputscale prior and the named lengthscale prior."""
    from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
    from gpytorch.kernels import RBFKernel
    from gpytorch.kernels import ScaleKernel
    from gpytorch.priors import GammaPrior

    if lengthscale_prior == "gamma":
        base = RBFKernel(ard_num_dims=dim, lengthscale_prior=GammaPrior(3.0, 6.0))
    else:
        base = get_covar_module_with_dim_scaled_prior(ard_num_dims=dim)
    return ScaleKernel(base, outputscale_prior=GammaPrior(2.0, 0.15))


def fit_gps(
    X: torch.Tensor,  # (n, D) in [0, 1], float64
    Y: torch.Tensor,  # (n, M), float64, finite
    *,
    previous: list[dict[str, torch.Tensor]] | None = None,
    zero_mean: bool = False,
    lengthscale_prior: str = "dim_scaled",
) -> tuple[list[SingleTaskGP], list[dict[str, torch.Tensor]]]:
    """Fit one GP per column of ``Y`` by maximising the marginal likelihood.

    ``zero_mean``: a zero prior mean on the standardized outputs instead of a fitted constant.
    ``lengthscale_prior``: one of ``LENGTHSCALE_PRIORS`` (module docstring).

    ``previous`` (hyperparameters of an earlier fit) warm-starts the optimizer. A fit that
    fails falls back to the previous hyperparameters, else to BoTorch's defaults, with a
    :class:`SurrogateWarning`. Returns the models and their hyperparameters for next time.
    """
    from botorch.exceptions.errors import ModelFittingError
    from botorch.exceptions.warnings import InputDataWarning
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from gpytorch.means import ZeroMean
    from gpytorch.mlls import ExactMarginalLogLikelihood

    def build(y: torch.Tensor) -> SingleTaskGP:  # y: (n, 1)
        mean = ZeroMean() if zero_mean else None  # None: BoTorch's ConstantMean
        return SingleTaskGP(
            X, y, covar_module=_kernel(X.shape[-1], lengthscale_prior), mean_module=mean
        )

    models, states = [], []
    for j in range(Y.shape[-1]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InputDataWarning)  # constant or single outputs
            model = build(Y[:, j : j + 1])
        warm = previous[j] if previous is not None and j < len(previous) else None
        if warm is not None:
            try:
                model.load_state_dict(warm, strict=False)
            except RuntimeError:  # shapes of another kernel (e.g. stored by another version)
                warm = None
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", InputDataWarning)
                    model = build(Y[:, j : j + 1])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # BoTorch's retry chatter; failures raise.
                fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        except (ModelFittingError, RuntimeError, ValueError) as err:
            fallback = "previous hyperparameters" if warm is not None else "default ones"
            warnings.warn(
                f"GP fit of output {j} failed ({err!s:.200}); using {fallback}.",
                SurrogateWarning,
                stacklevel=2,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", InputDataWarning)
                model = build(Y[:, j : j + 1])
            if warm is not None:
                model.load_state_dict(warm, strict=False)
        model.eval()
        models.append(model)
        states.append(_hyperparameters(model))
    return models, states


@dataclass
class _Factor:
    kernel: torch.nn.Module  # float32 copy of the fitted kernel
    X: torch.Tensor  # (n', D) training + pending inputs
    alpha: torch.Tensor  # (n',)  K^-1 (y - c)
    L_inv: torch.Tensor  # (n', n') inverse of the Cholesky factor of K
    constant: float  # GP prior mean (standardized units)
    y_mean: float  # outcome transform: y = y_mean + y_std * f
    y_std: float


class CachedPosterior:
    """Posterior marginals of independent GPs at many points, by cached factorization."""

    def __init__(
        self,
        models: list[SingleTaskGP],
        *,
        pending: torch.Tensor | None = None,  # (p, D) points being evaluated elsewhere
        device: torch.device,
    ) -> None:
        from linear_operator.utils.cholesky import psd_safe_cholesky

        self.device = device
        self._factors: list[_Factor] = []
        for model in models:
            gp: Any = model  # GPyTorch's dynamic attributes defeat static typing
            X = gp.train_inputs[0]  # (n, D), float64
            y = gp.train_targets  # (n,), standardized
            noise = gp.likelihood.noise.detach().reshape(())
            mean_module = gp.mean_module
            constant = (
                float(mean_module.constant.detach()) if hasattr(mean_module, "constant") else 0.0
            )
            kernel = gp.covar_module
            if pending is not None and len(pending) > 0:
                with torch.no_grad():
                    # Kriging believer: the mean at a pending point becomes its value.
                    k_pn = kernel(pending, X).to_dense()  # (p, n)
                    K = kernel(X, X).to_dense() + noise * torch.eye(len(X))
                    believed = constant + k_pn @ torch.linalg.solve(K, y - constant)
                X = torch.cat([X, pending])
                y = torch.cat([y, believed])
            with torch.no_grad():
                K = kernel(X, X).to_dense() + noise * torch.eye(len(X), dtype=X.dtype)
                L = psd_safe_cholesky(K)  # raises NotPSDError when hopeless
                alpha = torch.cholesky_solve((y - constant).unsqueeze(-1), L).squeeze(-1)
                eye = torch.eye(len(X), dtype=X.dtype)
                L_inv = torch.linalg.solve_triangular(L, eye, upper=False)
            tf = gp.outcome_transform
            self._factors.append(
                _Factor(
                    kernel=copy.deepcopy(kernel).to(device=device, dtype=torch.float32),
                    X=X.to(device=device, dtype=torch.float32),
                    alpha=alpha.to(device=device, dtype=torch.float32),
                    L_inv=L_inv.to(device=device, dtype=torch.float32),
                    constant=constant,
                    y_mean=float(tf.means.reshape(())),
                    y_std=float(tf.stdvs.reshape(())),
                )
            )

    @property
    def n_outputs(self) -> int:
        return len(self._factors)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and standard deviation of every output at ``x``: ``(B, D)`` -> 2 x ``(B, M)``."""
        x = x.to(device=self.device, dtype=torch.float32)
        means, stds = [], []
        for f in self._factors:
            k = f.kernel(x, f.X).to_dense()  # (B, n')
            prior_var = f.kernel(x, x, diag=True)  # (B,)
            mean = f.constant + k @ f.alpha
            var = (prior_var - (k @ f.L_inv.T).square().sum(-1)).clamp_min(1e-10)
            means.append(f.y_mean + f.y_std * mean)
            stds.append(f.y_std * var.sqrt())
        return torch.stack(means, -1), torch.stack(stds, -1)
