"""The JSON beside the deliverable: standardisation, classes, int8 input quantization."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import optuna

from evaluators import DIRECTIONS
from evaluators import make_objective
from evaluators.data import Dataset


def test_deployment_json_beside_the_model_describes_its_input(
    tiny: Dataset, tmp_path: Path
) -> None:
    objective = make_objective(dataset=tiny, quick=True, out_dir=tmp_path)
    study = optuna.create_study(
        directions=list(DIRECTIONS), sampler=optuna.samplers.RandomSampler(seed=0)
    )
    study.optimize(objective, n_trials=1)
    (trial,) = study.trials
    info = json.loads((tmp_path / "trial_00000.json").read_text())
    assert info == trial.user_attrs["deployment"]
    assert info["classes"] == ["a", "b", "c"] and info["format"] == "onnx"
    spec = info["input"]
    assert spec["mean"] == [0.0, 0.0] and spec["std"] == [1.0, 1.0]
    assert spec["shape"] == [1, 2, 1, 16] and spec["layout"] == "NCHW"
    # Quantizing the input with the JSON's scale and zero point first changes nothing: they
    # are the ones of the model's own input quantization.
    session = ort.InferenceSession(str(tmp_path / "trial_00000.onnx"))
    x = tiny.x_test.numpy()
    q = np.clip(np.round(x / spec["int8_scale"]) + spec["int8_zero_point"], -128, 127)
    snapped = ((q - spec["int8_zero_point"]) * spec["int8_scale"]).astype(np.float32)
    (direct,) = session.run(None, {"input": x})
    (via_json,) = session.run(None, {"input": snapped})
    np.testing.assert_allclose(direct, via_json, rtol=0, atol=1e-6)
    assert spec["int8_scale"] > 0
