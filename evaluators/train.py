"""Stage 3: SGD training with gradual structured filter pruning (paper Sec. 4, Table 2).

* SGD with momentum and weight decay; exponential learning-rate decay where ``lr_schedule``
  (relative to the epochs, Table 2) is the period over which the rate falls by ``lr_gamma``:
  the per-epoch factor is ``lr_gamma ** (1 / max(1, lr_schedule * epochs))``.
* Automated gradual pruning (Zhu & Gupta 2017): ``pruning_steps`` steps spread evenly from
  ``pruning_start`` to ``pruning_end`` (relative to the epochs); after step ``i`` of ``n`` a
  group with final sparsity ``s`` has lost ``s * (1 - (1 - i / n) ** 3)`` of its channels.
  Channels are physically removed by torch-pruning (L1-magnitude importance, one ratio per
  coupled group); the optimizer and LR scheduler are rebuilt after every step.
"""

from __future__ import annotations

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
    pruning_epochs: tuple[int, ...]  # epoch after which each AGP step ran
    seconds: float  # all of training, pruning included
    prune_seconds: float  # dependency graph, pruning steps, optimizer rebuilds


def agp_schedule(ratio: float, steps: int) -> list[float]:
    """Cumulative sparsity after AGP steps ``0..steps`` (cubic ramp, Zhu & Gupta 2017)."""
    return [ratio * (1.0 - (1.0 - i / steps) ** 3) for i in range(steps + 1)]


def pruning_epochs(config: TrainConfig) -> list[int]:
    """0-based epoch after which each of the ``pruning_steps`` steps runs."""
    span = config.pruning_end - config.pruning_start
    out = []
    for i in range(1, config.pruning_steps + 1):
        done = round((config.pruning_start + span * i / config.pruning_steps) * config.epochs)
        out.append(min(max(done - 1, 0), config.epochs - 1))
    return out


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch: int = 256) -> float:
    """Top-1 accuracy of a float model; ``x`` is ``[N, C, H, W]``."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(y), batch):
            correct += int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum())
    return correct / max(1, len(y))


def train_and_prune(
    model: nn.Module,
    data: Dataset,
    config: TrainConfig,
    *,
    time_limit: float | None = None,
    deadline: float | None = None,
) -> TrainResult:
    """Train ``model`` in place on ``data.x_train`` and prune it on the AGP schedule.

    Raises ``ValueError`` for a batch size larger than the training set and
    ``EvaluationError`` when the loss diverges or a layer would lose all its channels;
    :class:`TimeLimitExceeded` after the training step that passes ``deadline`` (a
    ``time.monotonic()`` value; ``time_limit`` is the budget it came from, for the message).
    """
    import torch_pruning as tp

    n = len(data.y_train)
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
    optimizer, scheduler = _optimizer(model, config, lr=config.lr, decay=decay)
    schedule = pruning_epochs(config) if pruner is not None else []
    loss_value = float("nan")
    for epoch in range(config.epochs):
        model.train()
        order = torch.randperm(n, generator=generator)
        for i in range(0, n, config.batch_size):
            idx = order[i : i + config.batch_size]
            if len(idx) < 2 and n >= 2:  # batch norm needs two samples in training mode
                continue
            loss = F.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_value = float(loss.detach())
            check_deadline(
                deadline,
                time_limit=time_limit,
                where=f"in training epoch {epoch + 1}/{config.epochs}",
            )
            if not math.isfinite(loss_value):
                raise EvaluationError(
                    f"training loss diverged ({loss_value}) in epoch {epoch + 1}/{config.epochs} "
                    f"(lr={config.lr:.3g}, momentum={config.momentum:.3g}, "
                    f"weight_decay={config.weight_decay:.3g})"
                )
        scheduler.step()
        steps_now = schedule.count(epoch)
        if pruner is not None and steps_now:
            tick = time.perf_counter()
            try:
                for _ in range(steps_now):
                    pruner.step()
            except Exception as exc:  # torch-pruning raises assorted types on bad groups
                raise EvaluationError(
                    f"pruning step after epoch {epoch + 1} failed: {type(exc).__name__}: {exc}"
                ) from exc
            _check_channels(model)
            lr = float(scheduler.get_last_lr()[0])
            optimizer, scheduler = _optimizer(model, config, lr=lr, decay=decay)
            prune_seconds += time.perf_counter() - tick
    _recalibrate_batch_norm(model, data.x_train, batch=config.batch_size)
    return TrainResult(
        model=model,
        val_accuracy=accuracy(model, data.x_val, data.y_val),
        test_accuracy=accuracy(model, data.x_test, data.y_test),
        final_loss=loss_value,
        pruning_epochs=tuple(schedule),
        seconds=time.perf_counter() - start,
        prune_seconds=prune_seconds,
    )


def _optimizer(
    model: nn.Module, config: TrainConfig, *, lr: float, decay: float
) -> tuple[torch.optim.SGD, torch.optim.lr_scheduler.ExponentialLR]:
    """A fresh SGD optimizer over the (possibly pruned) parameters and its LR decay."""
    optimizer = torch.optim.SGD(
        model.parameters(), lr=lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    return optimizer, torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=decay)


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
