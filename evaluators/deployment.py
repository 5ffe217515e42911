"""Stage 5c: what a firmware engineer needs beyond the weights, as a JSON file beside the model.

The deliverable (int8 ONNX or ``.tflite``) expects standardised input and returns logits; the
JSON says how to get there and back: the per-channel standardisation ``mean``/``std`` (from
the training split), the input layout and shape, the int8 input ``scale``/``zero_point``
(``q = clip(round(x_std / scale) + zero_point, -128, 127)``), and the class names in output
order. For the ONNX model (float input, QDQ inside) the scale and zero point are those of the
first ``QuantizeLinear`` after the input: what an int8 port of the graph would take.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from evaluators.data import Dataset
from evaluators.export import INPUT_NAME
from evaluators.train import EvaluationError


def deployment_info(model_path: Path, data: Dataset, *, model_name: str) -> dict[str, Any]:
    """The JSON-ready description of ``model_path`` (``.onnx`` or ``.tflite``)."""
    c, h, w = data.input_shape
    if model_path.suffix == ".tflite":
        scale, zero_point, dtype = _tflite_input_quantization(model_path.read_bytes())
        layout, shape = "NHWC", [1, h, w, c]
    else:
        scale, zero_point = _onnx_input_quantization(onnx.load(str(model_path)))
        dtype, layout, shape = "float32", "NCHW", [1, c, h, w]
    return {
        "format": model_path.suffix[1:],
        "dataset": data.name,
        "model": model_name,
        "classes": list(data.classes),
        "input": {
            "layout": layout,
            "shape": shape,
            "dtype": dtype,
            "standardise": "x_std[c] = (x[c] - mean[c]) / std[c], per input channel c",
            "mean": list(data.mean),
            "std": list(data.std),
            "int8_scale": scale,
            "int8_zero_point": zero_point,
            "quantize": "q = clip(round(x_std / int8_scale) + int8_zero_point, -128, 127)",
        },
        "output": {
            "shape": [1, data.n_classes],
            "meaning": "logits (int8 in the .tflite); argmax is the index into classes",
        },
    }


def write_deployment_json(model_path: Path, data: Dataset, *, model_name: str) -> Path:
    """Write :func:`deployment_info` to ``model_path`` with the suffix ``.json``."""
    path = model_path.with_suffix(".json")
    path.write_text(json.dumps(deployment_info(model_path, data, model_name=model_name), indent=2))
    return path


def _onnx_input_quantization(model: onnx.ModelProto) -> tuple[float, int]:
    """Scale and zero point of the ``QuantizeLinear`` reading the graph input."""
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "QuantizeLinear" and node.input[0] == INPUT_NAME:
            scale = float(np.asarray(inits[node.input[1]]).reshape(-1)[0])
            zero = (
                int(np.asarray(inits[node.input[2]]).reshape(-1)[0]) if len(node.input) > 2 else 0
            )
            return scale, zero
    raise EvaluationError("the int8 ONNX model has no QuantizeLinear on its input")


def _tflite_input_quantization(tflite_bytes: bytes) -> tuple[float, int, str]:
    """Scale, zero point and dtype name of the ``.tflite``'s input tensor."""
    from ai_edge_litert.interpreter import Interpreter

    details = Interpreter(model_content=tflite_bytes).get_input_details()[0]
    scale, zero = details["quantization"]
    return float(scale), int(zero), np.dtype(details["dtype"]).name
