"""Stage 7: the Optuna objective of the paper (Sec. 3-4): four minimised objectives
``(1 - int8 validation accuracy, flash bytes, SRAM bytes, FLOPs)`` over the search space of
Table 2, with the target's limits as Optuna constraints (``value - limit <= 0`` is feasible).

    study = optuna.create_study(directions=DIRECTIONS, sampler=ARSSampler(seed=0))
    study.optimize(make_objective(dataset="basicmotions"), n_trials=50,
                   catch=(EvaluationError,))

With ``tflm=True`` (optional extra) the int8 ``.tflite`` run by TensorFlow Lite Micro is the
deliverable: its accuracy, file size and measured arena become the values and constraints
(:attr:`Evaluation.values`); the ONNX-based estimates stay in the user attrs next to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
import gc
import math
import os
from pathlib import Path
import shutil
import tempfile
import time
from typing import TYPE_CHECKING
from typing import Any
from typing import Literal

import torch

from evaluators.data import Dataset
from evaluators.data import load_dataset
from evaluators.export import export_onnx
from evaluators.measure import Footprint
from evaluators.measure import measure
from evaluators.models import MODEL_NAMES
from evaluators.models import PrunableGroup
from evaluators.models import build_model
from evaluators.models import prunable_groups
from evaluators.quantize import QuantizedModel
from evaluators.quantize import quantize_int8
from evaluators.tflite import TFLMResult
from evaluators.tflite import export_tflite
from evaluators.tflite import require_tflm
from evaluators.tflite import run_tflm
from evaluators.train import EvaluationError
from evaluators.train import TrainConfig
from evaluators.train import TrainResult
from evaluators.train import check_deadline
from evaluators.train import train_and_prune

if TYPE_CHECKING:
    import optuna
    from optuna.artifacts._protocol import ArtifactStore

DIRECTIONS: tuple[Literal["minimize"], ...] = ("minimize",) * 4
OBJECTIVE_NAMES = ("1 - val accuracy (int8)", "flash bytes", "SRAM bytes", "FLOPs")
DEFAULT_EPOCH_SCALE = 0.1  # Table 2's 100-500 epochs become 10-50 on a CPU
_CALIBRATION_SAMPLES = 256
_QUICK_EPOCHS = 2


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Target limits (paper Sec. 4: 1 MB flash, 256 KB SRAM, 1e9 FLOPs)."""

    flash: int = 1_000_000
    sram: int = 256 * 1024
    flops: float = 1e9

    def __post_init__(self) -> None:
        bad = [f"{k}={v!r}" for k, v in vars(self).items() if not (v > 0 and math.isfinite(v))]
        if bad:
            raise ValueError(f"limits must be positive and finite: {', '.join(bad)}")

    def objective_bounds(self) -> list[tuple[float, float]]:
        """``(low, high)`` of each of the four losses (:data:`DIRECTIONS`) over the networks a
        target can take: error in [0, 1], flash, SRAM and FLOPs from 0 to their limits. The
        ``high`` row is the hypervolume reference point of the compression studies."""
        return [(0.0, 1.0), (0.0, float(self.flash)), (0.0, float(self.sram)), (0.0, self.flops)]


@dataclass(frozen=True, kw_only=True)
class SearchSpace:
    """Intervals of Table 2; ``(low, high)``, sampled log-uniformly where the paper says so.

    Weight decay is Table 2's [0.6, 0.99] (log) as printed; pass another interval to change
    it. The batch-size upper bound is clipped to the training-set size."""

    epochs: tuple[int, int] = (100, 500)
    batch_size: tuple[int, int] = (20, 200)
    lr: tuple[float, float] = (1e-5, 1e-2)
    momentum: tuple[float, float] = (0.7, 0.99)
    lr_schedule: tuple[float, float] = (0.4, 0.9)
    lr_gamma: tuple[float, float] = (0.4, 0.9)
    weight_decay: tuple[float, float] = (0.6, 0.99)
    pruning_start: tuple[float, float] = (0.0, 0.6)
    pruning_end: tuple[float, float] = (0.8, 0.95)
    pruning_steps: tuple[int, int] = (1, 20)
    sparsity: tuple[float, float] = (0.1, 0.99)

    def __post_init__(self) -> None:
        bad = [f"{k}={v!r}" for k, v in vars(self).items() if not v[0] <= v[1]]
        if bad:
            raise ValueError(f"search space intervals need low <= high: {', '.join(bad)}")


@dataclass(frozen=True, kw_only=True)
class Evaluation:
    """Everything one evaluation produced; the model files live in the caller's workdir.

    ``tflm`` and ``tflite_path`` are set when the TFLite Micro route ran (``tflm=True``)."""

    train: TrainResult
    quantized: QuantizedModel
    footprint: Footprint
    onnx_path: Path
    tflm: TFLMResult | None = None
    tflite_path: Path | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def deliverable(self) -> Path:
        """The int8 model to deploy: the ``.tflite`` when TFLM ran, else the int8 ONNX."""
        return self.onnx_path if self.tflite_path is None else self.tflite_path

    @property
    def values(self) -> tuple[float, float, float, float]:
        """The four objectives, from the deliverable: ``(1 - int8 val accuracy, flash, SRAM,
        FLOPs)``. With TFLM: its accuracy, the ``.tflite`` size and its smallest working arena;
        otherwise onnxruntime's accuracy and the estimates of :mod:`evaluators.measure`."""
        f, t = self.footprint, self.tflm
        if t is None:
            return (1.0 - self.quantized.val_accuracy, f.flash_bytes, f.sram_bytes, f.flops)
        return (1.0 - t.val_accuracy, t.file_bytes, t.arena_bytes, f.flops)


def evaluate(
    data: Dataset,
    model_name: str,
    config: TrainConfig,
    *,
    workdir: Path,
    threads: int = 1,
    dynamo: bool = False,
    time_limit: float | None = None,
    tflm: bool = False,
) -> Evaluation:
    """Run the pipeline model -> train + prune -> export -> quantize -> measure once; with
    ``tflm`` also the int8 ``.tflite`` export and its TFLM run (needs the ``tflm`` extra).

    ``time_limit`` (seconds) is checked between training steps and between stages; past it,
    :class:`~evaluators.train.TimeLimitExceeded` (an ``EvaluationError``) is raised.
    """
    if tflm:
        require_tflm()  # before training: a missing extra is not a trial failure
    deadline = None if time_limit is None else time.monotonic() + time_limit

    def check(where: str) -> None:
        check_deadline(deadline, time_limit=time_limit, where=where)

    torch.set_num_threads(threads)
    torch.manual_seed(config.seed)
    start = time.perf_counter()
    model = build_model(model_name, input_shape=data.input_shape, n_classes=data.n_classes)
    model_seconds = time.perf_counter() - start
    trained = train_and_prune(model, data, config, time_limit=time_limit, deadline=deadline)
    check("after training")
    example = data.x_train[:1]  # [1, C, H, W]
    exported = export_onnx(trained.model, example, workdir / "float.onnx", dynamo=dynamo)
    check("after the ONNX export")
    quantized = quantize_int8(
        exported.path,
        workdir / "int8.onnx",
        calibration=data.x_train[:_CALIBRATION_SAMPLES],
        x_val=data.x_val,
        y_val=data.y_val,
        x_test=data.x_test,
        y_test=data.y_test,
        threads=threads,
    )
    check("after quantization")
    start = time.perf_counter()
    footprint = measure(trained.model, example, quantized.path)
    seconds = {
        "model": model_seconds,
        "train": trained.seconds - trained.prune_seconds,
        "prune": trained.prune_seconds,
        "export": exported.seconds,
        "quantize": quantized.seconds,
        "measure": time.perf_counter() - start,
    }
    measured, tflite_path = None, None
    if tflm:
        check("after measuring")
        start = time.perf_counter()
        calibration = data.x_train[:_CALIBRATION_SAMPLES]
        tflite_path = export_tflite(
            trained.model, calibration=calibration, path=workdir / "int8.tflite"
        )
        check("after the TFLite export")
        measured = run_tflm(
            tflite_path.read_bytes(), data.x_val, data.y_val, data.x_test, data.y_test
        )
        seconds["tflite"] = time.perf_counter() - start
    return Evaluation(
        train=trained,
        quantized=quantized,
        footprint=footprint,
        onnx_path=quantized.path,
        tflm=measured,
        tflite_path=tflite_path,
        seconds=seconds,
    )


class Objective:
    """Callable Optuna objective; build it with :func:`make_objective`."""

    def __init__(
        self,
        *,
        data: Dataset,
        model: str,
        limits: Limits,
        space: SearchSpace,
        epoch_scale: float,
        quick: bool,
        artifact_store: ArtifactStore | None,
        out_dir: Path | None,
        threads: int,
        dynamo: bool,
        seed: int,
        time_limit: float | None = None,
        tflm: bool = False,
    ) -> None:
        self.data = data
        self.tflm = tflm
        self.time_limit = time_limit
        self.model = model
        self.limits = limits
        self.space = space
        self.epoch_scale = epoch_scale
        self.quick = quick
        self.artifact_store = artifact_store
        self.out_dir = out_dir
        self.threads = threads
        self.dynamo = dynamo
        self.seed = seed
        template = build_model(model, input_shape=data.input_shape, n_classes=data.n_classes)
        self.groups: list[PrunableGroup] = sorted(
            prunable_groups(template, data.x_train[:1]), key=lambda g: _module_order(template, g)
        )

    directions = DIRECTIONS

    def suggest(self, trial: optuna.Trial) -> TrainConfig:
        """Sample Table 2's hyperparameters (one sparsity per prunable group)."""
        s = self.space
        n_train = len(self.data.y_train)
        epochs = trial.suggest_int("epochs", *s.epochs)
        batch_size = trial.suggest_int(
            "batch_size", min(s.batch_size[0], n_train), min(s.batch_size[1], n_train)
        )
        lr = trial.suggest_float("lr", *s.lr, log=True)
        momentum = trial.suggest_float("momentum", *s.momentum, log=True)
        lr_schedule = trial.suggest_float("lr_schedule", *s.lr_schedule)
        lr_gamma = trial.suggest_float("lr_gamma", *s.lr_gamma)
        weight_decay = trial.suggest_float("weight_decay", *s.weight_decay, log=True)
        pruning_start = trial.suggest_float("pruning_start", *s.pruning_start)
        pruning_end = trial.suggest_float("pruning_end", *s.pruning_end)
        pruning_steps = trial.suggest_int("pruning_steps", *s.pruning_steps)
        sparsity = {
            g.name: trial.suggest_float(f"sparsity:{g.name}", *s.sparsity) for g in self.groups
        }
        return TrainConfig(
            epochs=self.scaled_epochs(epochs),
            batch_size=batch_size,
            lr=lr,
            momentum=momentum,
            lr_schedule=lr_schedule,
            lr_gamma=lr_gamma,
            weight_decay=weight_decay,
            pruning_start=pruning_start,
            pruning_end=max(pruning_start, pruning_end),
            pruning_steps=pruning_steps,
            sparsity=sparsity,
            seed=self.seed + trial.number,
        )

    def scaled_epochs(self, epochs: int) -> int:
        """Table 2 epochs times ``epoch_scale`` (at least 1; at most 2 with ``quick``)."""
        scaled = max(1, round(epochs * self.epoch_scale))
        return min(scaled, _QUICK_EPOCHS) if self.quick else scaled

    def __call__(self, trial: optuna.Trial) -> tuple[float, float, float, float]:
        """Evaluate one trial. Any trial-level failure (diverging loss, time limit, out of
        memory, export/quantization/storing error) raises ``EvaluationError`` after recording
        its ``fail_reason`` user attr; memory of an out-of-memory trial is released first."""
        config = self.suggest(trial)
        trial.set_user_attr("epochs_trained", config.epochs)
        reason = None
        kind: type[EvaluationError] = EvaluationError
        with tempfile.TemporaryDirectory(prefix="optuna_ars_") as tmp:
            try:
                result = evaluate(
                    self.data,
                    self.model,
                    config,
                    workdir=Path(tmp),
                    threads=self.threads,
                    dynamo=self.dynamo,
                    time_limit=self.time_limit,
                    tflm=self.tflm,
                )
                self._record(trial, result)
            except EvaluationError as exc:
                reason, kind = str(exc), type(exc)
            except (torch.OutOfMemoryError, MemoryError) as exc:
                # Leave the except block before raising: the traceback holds the model.
                reason = f"out of memory: {type(exc).__name__}: {exc}"
            except OSError as exc:  # storing the model: disk full, artifact store gone
                reason = f"storing the int8 model failed: {type(exc).__name__}: {exc}"
        if reason is not None:
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            trial.set_user_attr("fail_reason", reason)
            raise kind(reason)
        return result.values

    def _record(self, trial: optuna.Trial, result: Evaluation) -> None:
        """User attrs, constraints (from :attr:`Evaluation.values`), and the deliverable int8
        model as an artifact / file."""
        f, q, t = result.footprint, result.quantized, result.train
        attrs: dict[str, Any] = {
            "val_accuracy_int8": q.val_accuracy,
            "test_accuracy_int8": q.test_accuracy,
            "val_accuracy_float": t.val_accuracy,
            "test_accuracy_float": t.test_accuracy,
            "flash_bytes": f.flash_bytes,
            "weight_bytes": f.weight_bytes,
            "graph_bytes": f.graph_bytes,
            "onnx_file_bytes": f.file_bytes,
            "sram_bytes": f.sram_bytes,
            "arena_bytes": f.arena_bytes,
            "persistent_bytes": f.persistent_bytes,
            "flops": f.flops,
            "params": f.params,
            "float_ops": list(q.float_ops),
            "pruning_epochs": list(t.pruning_epochs),
            "final_loss": t.final_loss,
            **{f"seconds_{k}": v for k, v in result.seconds.items()},
            **_tflm_attrs(result.tflm),
        }
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        _, flash, sram, flops = result.values
        slack = {
            "flash": flash - self.limits.flash,
            "sram": sram - self.limits.sram,
            "flops": flops - self.limits.flops,
        }
        for key, value in slack.items():
            trial.set_constraint(key, value)
        # optuna-dashboard's trial page shows user attrs, not constraints: name the limits
        # this network exceeds there (an empty list: deployable).
        trial.set_user_attr("over_limits", [key for key, value in slack.items() if value > 0])
        model = result.deliverable
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            target = self.out_dir / f"trial_{trial.number:05d}{model.suffix}"
            shutil.copyfile(model, target)
            trial.set_user_attr(f"{model.suffix[1:]}_path", str(target))
        if self.artifact_store is not None:
            from optuna.artifacts import upload_artifact

            artifact_id = upload_artifact(
                artifact_store=self.artifact_store,
                file_path=str(model),
                study_or_trial=trial,
                mimetype="application/octet-stream",
            )
            trial.set_user_attr("artifact_id", artifact_id)


def _tflm_attrs(tflm: TFLMResult | None) -> dict[str, Any]:
    """User attrs of the TFLM run (none without it); a float op adds a ``warning``."""
    if tflm is None:
        return {}
    attrs: dict[str, Any] = {
        "tflm_val_accuracy": tflm.val_accuracy,
        "tflm_test_accuracy": tflm.test_accuracy,
        "tflm_arena_bytes": tflm.arena_bytes,
        "tflm_arena_used_bytes": tflm.arena_used_bytes,
        "tflm_arena_head_bytes": tflm.arena_head_bytes,
        "tflm_arena_tail_bytes": tflm.arena_tail_bytes,
        "tflite_bytes": tflm.file_bytes,
        "tflite_float_ops": list(tflm.float_ops),
    }
    if tflm.float_ops:
        attrs["warning"] = (
            f"the .tflite computes {', '.join(tflm.float_ops)} in float: not fully int8 "
            "(slower on the target, float kernels needed)"
        )
    return attrs


def _module_order(model: torch.nn.Module, group: PrunableGroup) -> int:
    """Position of a group's root in ``model.named_modules()`` (forward order)."""
    return [name for name, _ in model.named_modules()].index(group.name)


def make_objective(
    *,
    dataset: str | Dataset = "basicmotions",
    root: str | os.PathLike[str] | None = None,
    model: str | None = None,
    limits: Limits | None = None,
    space: SearchSpace | None = None,
    epoch_scale: float = DEFAULT_EPOCH_SCALE,
    quick: bool = False,
    artifact_store: ArtifactStore | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    threads: int = 1,
    dynamo: bool = False,
    seed: int = 0,
    time_limit: float | None = None,
    tflm: bool = False,
) -> Objective:
    """An Optuna objective for ``dataset`` (a name for :func:`load_dataset`, or a loaded
    :class:`Dataset`) and ``model`` (default: the paper's network for the data).

    ``epoch_scale`` multiplies Table 2's epochs (default 0.1 for CPUs); ``quick`` also caps
    training at 2 epochs and the data at 512 training samples (smoke runs). ``threads`` is the
    torch / onnxruntime thread count per trial (1 avoids oversubscription; run workers in
    parallel instead). ``time_limit`` (seconds per trial, ``None``: none) fails a trial that
    runs longer, checked between training steps and pipeline stages (``fail_reason`` says
    where). ``tflm`` adds the int8 ``.tflite`` run by TensorFlow Lite Micro as the deliverable
    (values and constraints from it; needs ``pip install 'optuna-ars[tflm]'``, else
    ``ImportError`` here). Invalid arguments raise ``ValueError`` naming them.
    """
    bad = []
    if not (epoch_scale > 0 and math.isfinite(epoch_scale)):
        bad.append(f"epoch_scale={epoch_scale!r} (must be > 0)")
    if threads < 1:
        bad.append(f"threads={threads!r} (must be >= 1)")
    if time_limit is not None and not (time_limit > 0 and math.isfinite(time_limit)):
        bad.append(f"time_limit={time_limit!r} (must be > 0 seconds)")
    if model is not None and model not in MODEL_NAMES:
        bad.append(f"model={model!r} (one of {MODEL_NAMES})")
    if bad:
        raise ValueError(f"invalid arguments: {', '.join(bad)}")
    if tflm:
        require_tflm()
    data = (
        dataset
        if isinstance(dataset, Dataset)
        else load_dataset(dataset, root=root, quick=quick, seed=seed)
    )
    return Objective(
        data=data,
        model=model or data.default_model,
        limits=limits or Limits(),
        space=space or SearchSpace(),
        epoch_scale=epoch_scale,
        quick=quick,
        artifact_store=artifact_store,
        out_dir=Path(out_dir) if out_dir is not None else None,
        threads=threads,
        dynamo=dynamo,
        seed=seed,
        time_limit=time_limit,
        tflm=tflm,
    )
