"""Stage 3: SGD training with gradual structured filter pruning (paper Sec. 4, Table 2).

* SGD with momentum and weight decay; exponential learning-rate decay where ``lr_schedule``
  (relative to the epochs, Table 2) is the period over which the rate falls by ``lr_gamma``:
  the per-epoch factor is ``lr_gamma ** (1 / max(1, lr_schedule * epochs))``.
* Automated gradual pruning (Zhu & Gupta 2017): ``pruning_steps`` steps spread evenly from
  ``pruning_start`` to ``pruning_end`` (relative to the optimizer steps, fine-tuning steps
  always left after the last: :func:`pruning_schedule`); after step ``i`` of ``n`` a
  group with final sparsity ``s`` has lost ``s * (1 - (1 - i / n) ** 3)`` of its channels.
  Channels are physically removed by torch-pruning (L1-magnitude importance, one ratio per
  coupled group); the optimizer is rebuilt after every step (at the current rate).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
import math
import time

import torch
from torch import nn
import torch.nn.functional as F

from evaluators.data import Dataset
from evaluators.models import classifier_of

DIVERGENCE_FACTOR = 100.0
"""A training loss above this many times the first step's is divergence (cross-entropy
starts near ln(classes): 100x is logits off by > 100, far past any recovering spike)."""


class EvaluationError(RuntimeError):
    """A trial-level failure (diverging loss, over-pruning, export or quantization error).

    The objective lets it propagate so that Optuna records the trial as FAIL; pass
    ``catch=(EvaluationError,)`` to ``study.optimize`` so the study goes on.
    """


class TimeLimitExceeded(EvaluationError):
    """A trial ran past its time limit (checked between training steps and pipeline stages)."""


def check_deadline(deadline: float | None, *, time_limit: float | None, where: str) -> None:
    """Raise :class:`TimeLimitExceeded` when ``time.monotonic()`` is past ``deadline``."""
    if deadline is not None and time.monotonic() > deadline:
        raise TimeLimitExceeded(f"time limit of {time_limit:g} s exceeded {where}")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """One trial's training and pruning hyperparameters (Table 2, epochs already scaled)."""

    epochs: int
    batch_size: int
    lr: float
    momentum: float
    lr_schedule: float
    lr_gamma: float
    weight_decay: float
    pruning_start: float = 0.0
    pruning_end: float = 0.9
    pruning_steps: int = 1
    sparsity: Mapping[str, float] = field(default_factory=dict)  # group root name -> ratio
    round_to: int = 4  # keep channel counts multiples of 4 (SIMD-friendly int8 kernels)
    min_channels: int = 4  # never prune a group below this many channels
    seed: int = 0

    def __post_init__(self) -> None:
        bad = []
        if self.epochs < 1:
            bad.append(f"epochs={self.epochs}")
        if self.batch_size < 1:
            bad.append(f"batch_size={self.batch_size}")
        if not self.lr > 0 or not math.isfinite(self.lr):
            bad.append(f"lr={self.lr}")
        if not 0.0 <= self.pruning_start <= self.pruning_end <= 1.0:
            bad.append(f"pruning_start={self.pruning_start}, pruning_end={self.pruning_end}")
        if self.pruning_steps < 1:
            bad.append(f"pruning_steps={self.pruning_steps}")
        if not 0.0 < self.lr_gamma <= 1.0:
            bad.append(f"lr_gamma={self.lr_gamma}")
        bad += [f"sparsity[{k!r}]={v}" for k, v in self.sparsity.items() if not 0.0 <= v < 1.0]
        if bad:
            raise ValueError(f"invalid TrainConfig: {', '.join(bad)}")


@dataclass(frozen=True, kw_only=True)
class TrainResult:
    """The pruned float model (eval mode) and how training went."""

    model: nn.Module
    val_accuracy: float
    test_accuracy: float
    final_loss: float
    pruning_steps: tuple[int, ...]  # 0-based optimizer step after which each AGP step ran
    sgd_steps: int  # optimizer steps taken
    seconds: float  # all of training, pruning included
    prune_seconds: float  # dependency graph, pruning steps, optimizer rebuilds


def agp_schedule(ratio: float, steps: int) -> list[float]:
    """Cumulative sparsity after AGP steps ``0..steps`` (cubic ramp, Zhu & Gupta 2017)."""
    return [ratio * (1.0 - (1.0 - i / steps) ** 3) for i in range(steps + 1)]


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Optimizer steps in one epoch over ``n`` samples: every batch of ``batch_size`` but a
    last batch of one sample (batch norm cannot train on one)."""
    full, rest = divmod(n, batch_size)
    return full + (1 if rest >= 2 else 0)


def pruning_schedule(total_steps: int, *, start: float, end: float, steps: int) -> list[int]:
    """0-based optimizer step after which each of the ``steps`` AGP steps runs.

    Steps are spread evenly over ``[start, end]`` of the ``total_steps`` optimizer steps
    (``i / steps`` of the way for step ``i``), and the last one always leaves fine-tuning
    after it: at least ``max(1, ceil((1 - end) * total_steps))`` steps (all but one step
    when training is shorter). With ``total_steps == 1`` there is no step to fine-tune in.
    Non-decreasing; several AGP steps may share an optimizer step on short runs."""
    if total_steps < 1 or steps < 1 or not 0.0 <= start <= end <= 1.0:
        raise ValueError(
            f"pruning_schedule: total_steps={total_steps}, steps={steps}, start={start}, "
            f"end={end} (need total_steps >= 1, steps >= 1, 0 <= start <= end <= 1)"
        )
    finetune = min(total_steps - 1, max(1, math.ceil((1.0 - end) * total_steps - 1e-9)))
    last = total_steps - 1 - finetune
    span = end - start
    return [
        min(max(math.ceil((start + span * i / steps) * total_steps - 1e-9) - 1, 0), last)
        for i in range(1, steps + 1)
    ]


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch: int = 256) -> float:
    """Top-1 accuracy of a float model; ``x`` is ``[N, C, H, W]`` (NaN when empty)."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(y), batch):
            correct += int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum())
    return correct / len(y) if len(y) else math.nan


def train_and_prune(
    model: nn.Module,
    data: Dataset,
    config: TrainConfig,
    *,
    check: Callable[[str], None] = lambda where: None,
) -> TrainResult:
    """Train ``model`` in place on ``data.x_train`` and prune it on the AGP schedule.

    Raises ``ValueError`` for a batch size larger than the training set and
    ``EvaluationError`` for fewer than 2 training samples, a diverging loss (not finite, or
    above :data:`DIVERGENCE_FACTOR` times the first step's) or a layer that would lose all
    its channels. ``check(where)`` runs after every optimizer step (a time limit raises
    :class:`TimeLimitExceeded` from it: :func:`check_deadline`).
    """
    import torch_pruning as tp

    n = len(data.y_train)
    if n < 2:
        raise EvaluationError(
            f"training needs >= 2 samples (batch norm trains on batches of >= 2), got {n}"
        )
    if config.batch_size > n:
        raise ValueError(f"batch_size={config.batch_size} is larger than the {n} training samples")
    start = time.perf_counter()
    generator = torch.Generator().manual_seed(config.seed)
    example = data.x_train[:1]
    modules = dict(model.named_modules())
    unknown = sorted(set(config.sparsity) - set(modules))
    if unknown:
        raise ValueError(f"sparsity names {unknown} are not modules of the model")
    ratios: dict[nn.Module, float] = {}
    for name, ratio in config.sparsity.items():
        module = modules[name]
        channels = int(getattr(module, "out_channels", getattr(module, "out_features", 0)))
        # Cap the ratio so at least ``min_channels`` remain even after rounding to ``round_to``.
        floor = max(config.min_channels, config.round_to) + 0.5
        ratios[module] = min(ratio, max(0.0, 1.0 - floor / max(channels, 1)))
    pruner = None
    prune_seconds = 0.0
    if any(r > 0 for r in ratios.values()):
        tick = time.perf_counter()
        pruner = tp.pruner.BasePruner(
            model,
            example,
            importance=tp.importance.MagnitudeImportance(p=1),
            pruning_ratio=0.0,
            pruning_ratio_dict=ratios,
            iterative_steps=config.pruning_steps,
            iterative_pruning_ratio_scheduler=agp_schedule,
            ignored_layers=[classifier_of(model)],
            round_to=config.round_to,
        )
        prune_seconds += time.perf_counter() - tick
    decay = config.lr_gamma ** (1.0 / max(1.0, config.lr_schedule * config.epochs))
    optimizer = _optimizer(model, config)
    total = config.epochs * steps_per_epoch(n, config.batch_size)
    schedule = (
        pruning_schedule(
            total,
            start=config.pruning_start,
            end=config.pruning_end,
            steps=config.pruning_steps,
        )
        if pruner is not None
        else []
    )
    loss_value = first_loss = float("nan")
    step = 0
    for epoch in range(config.epochs):
        lr = config.lr * decay**epoch
        for group in optimizer.param_groups:
            group["lr"] = lr
        model.train()
        order = torch.randperm(n, generator=generator)
        for i in range(0, n, config.batch_size):
            idx = order[i : i + config.batch_size]
            if len(idx) < 2:  # batch norm needs two samples in training mode
                continue
            loss = F.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_value = float(loss.detach())
            first_loss = loss_value if step == 0 else first_loss
            where = f"in training epoch {epoch + 1}/{config.epochs}"
            check(where)
            _check_divergence(loss_value, first_loss, config=config, where=where)
            steps_now = schedule.count(step)
            step += 1
            if pruner is not None and steps_now:
                tick = time.perf_counter()
                try:
                    for _ in range(steps_now):
                        pruner.step()
                except Exception as exc:  # torch-pruning raises assorted types on bad groups
                    raise EvaluationError(
                        f"pruning step after optimizer step {step} failed: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                _check_channels(model)
                optimizer = _optimizer(model, config, lr=lr)
                prune_seconds += time.perf_counter() - tick
    _recalibrate_batch_norm(model, data.x_train, batch=config.batch_size)
    return TrainResult(
        model=model,
        val_accuracy=accuracy(model, data.x_val, data.y_val),
        test_accuracy=accuracy(model, data.x_test, data.y_test),
        final_loss=loss_value,
        pruning_steps=tuple(schedule),
        sgd_steps=step,
        seconds=time.perf_counter() - start,
        prune_seconds=prune_seconds,
    )


def _check_divergence(loss: float, first: float, *, config: TrainConfig, where: str) -> None:
    """:class:`EvaluationError` when the loss is not finite or above
    :data:`DIVERGENCE_FACTOR` times the first step's loss (the run diverged)."""
    if math.isfinite(loss) and loss <= DIVERGENCE_FACTOR * max(first, 1e-3):
        return
    raise EvaluationError(
        f"training loss diverged ({loss:.3g}) {where}: first step's loss {first:.3g}, limit "
        f"{DIVERGENCE_FACTOR:g}x that (lr={config.lr:.3g}, momentum={config.momentum:.3g}, "
        f"weight_decay={config.weight_decay:.3g})"
    )


def _optimizer(
    model: nn.Module, config: TrainConfig, *, lr: float | None = None
) -> torch.optim.SGD:
    """A fresh SGD optimizer over the (possibly pruned) parameters at ``lr`` (default:
    ``config.lr``); the epoch loop sets the decayed rate."""
    return torch.optim.SGD(
        model.parameters(),
        lr=config.lr if lr is None else lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
    )


def _recalibrate_batch_norm(model: nn.Module, x: torch.Tensor, *, batch: int) -> None:
    """Recompute batch-norm running statistics as exact averages over ``x`` with the final
    weights (few-step training leaves the running averages behind the weights, and the
    deployed model folds them into the convolutions). Leaves ``model`` in eval mode."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    model.train()
    with torch.no_grad():
        for i in range(0, len(x), batch):
            if len(x[i : i + batch]) >= 2:
                model(x[i : i + batch])
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    model.eval()


def _check_channels(model: nn.Module) -> None:
    """Every conv/linear layer still has at least one input and one output channel."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d | nn.Linear) and 0 in module.weight.shape[:2]:
            raise EvaluationError(f"layer {name!r} was pruned to zero channels")
