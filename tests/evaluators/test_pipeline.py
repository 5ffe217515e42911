"""BasicMotions end to end: train + prune -> int8 ONNX -> onnxruntime accuracy -> resources,
and the Optuna objective (constraints, user attrs, artifacts, failed trials)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import optuna
from optuna.artifacts import FileSystemArtifactStore
import pytest

from evaluators import DIRECTIONS
from evaluators import EvaluationError
from evaluators import Limits
from evaluators import SearchSpace
from evaluators import evaluate
from evaluators import make_objective
from evaluators.data import Dataset
from evaluators.models import build_model
from evaluators.models import prunable_groups
from evaluators.train import TrainConfig
from tests.evaluators.conftest import small_config


def _config(data: Dataset, sparsity: float) -> TrainConfig:
    model = build_model("uea", input_shape=data.input_shape, n_classes=data.n_classes)
    groups = prunable_groups(model, data.x_train[:1])
    return small_config(
        batch_size=16, lr=0.005, pruning_end=0.9, sparsity={g.name: sparsity for g in groups}
    )


def test_basicmotions_end_to_end_and_pruning_shrinks(
    basicmotions: Dataset, tmp_path: Path
) -> None:
    results = []
    for sparsity in (0.0, 0.7):
        workdir = tmp_path / str(sparsity)
        workdir.mkdir()
        results.append(
            evaluate(basicmotions, "uea", _config(basicmotions, sparsity), workdir=workdir)
        )
    dense, pruned = results
    for r in results:
        proto = onnx.load(str(r.onnx_path))
        weights = [t for t in proto.graph.initializer if len(t.dims) >= 2]  # conv/linear
        assert weights and all(t.data_type == onnx.TensorProto.INT8 for t in weights)
        biases = [t for t in proto.graph.initializer if t.name.endswith("bias_quantized")]
        assert biases and all(t.data_type == onnx.TensorProto.INT32 for t in biases)
        assert r.quantized.float_ops == ()
        # The reported int8 accuracy is onnxruntime's on the int8 file itself.
        session = ort.InferenceSession(str(r.onnx_path), providers=["CPUExecutionProvider"])
        (logits,) = session.run(None, {"input": basicmotions.x_val.numpy()})
        acc = float(np.mean(np.argmax(logits, 1) == basicmotions.y_val.numpy()))
        assert r.quantized.val_accuracy == pytest.approx(acc)
        f = r.footprint
        assert min(f.flops, f.flash_bytes, f.sram_bytes, f.params) > 0
        assert f.flash_bytes == f.weight_bytes + f.graph_bytes
        assert f.weight_bytes >= f.params * 0.9  # about one byte per int8 weight
        assert f.sram_bytes == f.arena_bytes + f.persistent_bytes
        assert set(r.seconds) == {"model", "train", "prune", "export", "quantize", "measure"}
        assert len(r.values) == 4 and 0.0 <= r.values[0] <= 1.0
    assert pruned.footprint.flops < dense.footprint.flops / 3
    assert pruned.footprint.flash_bytes < dense.footprint.flash_bytes / 3
    assert pruned.footprint.sram_bytes < dense.footprint.sram_bytes
    assert pruned.footprint.params < dense.footprint.params


def test_objective_sets_constraints_attrs_and_artifact(
    basicmotions: Dataset, tmp_path: Path
) -> None:
    store = FileSystemArtifactStore(str(tmp_path))
    objective = make_objective(
        dataset=basicmotions, quick=True, artifact_store=store, limits=Limits(flash=400_000)
    )
    assert len(objective.groups) == 16
    study = optuna.create_study(
        directions=list(DIRECTIONS), sampler=optuna.samplers.RandomSampler(seed=0)
    )
    study.optimize(objective, n_trials=1)
    trial = study.trials[0]
    assert trial.state == optuna.trial.TrialState.COMPLETE
    assert len(trial.values) == 4
    sparsities = [k for k in trial.params if k.startswith("sparsity:")]
    assert len(sparsities) == 16 and 20 <= trial.params["batch_size"] <= 32
    attrs = trial.user_attrs
    assert trial.constraints == {
        "flash": attrs["flash_bytes"] - 400_000,
        "sram": attrs["sram_bytes"] - 256 * 1024,
        "flops": attrs["flops"] - 1e9,
    }
    assert attrs["epochs_trained"] <= 2 and attrs["float_ops"] == []
    for key in ("val_accuracy_int8", "test_accuracy_int8", "val_accuracy_float", "params"):
        assert key in attrs
    assert attrs["seconds_train"] > 0
    with store.open_reader(attrs["artifact_id"]) as f:
        assert onnx.load_from_string(f.read()).graph.node


def test_failed_trial_is_recorded_and_study_goes_on(basicmotions: Dataset) -> None:
    sampler = optuna.samplers.RandomSampler(seed=0)  # the same parameters on every run
    study = optuna.create_study(directions=list(DIRECTIONS), sampler=sampler)
    diverging = make_objective(
        dataset=basicmotions, quick=True, space=SearchSpace(lr=(1e30, 1e30))
    )
    study.optimize(diverging, n_trials=1, catch=(EvaluationError,))
    failed = study.trials[0]
    assert failed.state == optuna.trial.TrialState.FAIL
    assert "diverged" in failed.user_attrs["fail_reason"]
    study.optimize(make_objective(dataset=basicmotions, quick=True), n_trials=1)
    assert [t.state for t in study.trials] == [
        optuna.trial.TrialState.FAIL,
        optuna.trial.TrialState.COMPLETE,
    ]


def test_invalid_arguments_name_themselves(basicmotions: Dataset) -> None:
    with pytest.raises(ValueError, match=r"epoch_scale=0.*threads=0"):
        make_objective(dataset=basicmotions, epoch_scale=0, threads=0)
    with pytest.raises(ValueError, match="model='vgg'"):
        make_objective(dataset=basicmotions, model="vgg")
    with pytest.raises(ValueError, match="flash=-1"):
        Limits(flash=-1)
    with pytest.raises(ValueError, match="lr="):
        SearchSpace(lr=(1.0, 0.1))
