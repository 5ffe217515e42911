"""Stage 4: post-training static int8 quantization and int8 accuracy (paper Sec. 3, 4).

onnxruntime's ``quant_pre_process`` then ``quantize_static`` in QDQ format (standard ONNX ops;
onnxruntime fuses each DequantizeLinear -> op -> QuantizeLinear into an int8 kernel): int8
activations (asymmetric), int8 weights symmetric per output channel, int32 biases, min-max
calibration on training data. This is TFLite's int8 scheme. Accuracy is measured by running
the int8 model itself in onnxruntime, on the validation (optimised) and test (reported) splits.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
import math
from pathlib import Path
import time

import numpy as np
import onnx
import torch

from evaluators.export import INPUT_NAME
from evaluators.train import EvaluationError

_BOUNDARY_OPS = frozenset({"QuantizeLinear", "DequantizeLinear"})


@dataclass(frozen=True, kw_only=True)
class QuantizedModel:
    """An int8 ONNX file and its accuracy under onnxruntime."""

    path: Path
    val_accuracy: float
    test_accuracy: float
    float_ops: tuple[str, ...]  # op types that compute in float (empty: fully int8)
    seconds: float


class _Calibration:
    """onnxruntime ``CalibrationDataReader`` over ``x`` in batches (``x``: ``[N, C, H, W]``)."""

    def __init__(self, x: torch.Tensor, *, batch: int) -> None:
        self._batches: Iterator[torch.Tensor] = iter(torch.split(x, batch))

    def get_next(self) -> dict[str, np.ndarray] | None:
        chunk = next(self._batches, None)
        return None if chunk is None else {INPUT_NAME: chunk.numpy()}


def quantize_int8(
    float_path: Path,
    out_path: Path,
    *,
    calibration: torch.Tensor,
    x_val: torch.Tensor,
    y_val: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    threads: int = 1,
) -> QuantizedModel:
    """Quantize ``float_path`` to ``out_path`` calibrating on ``calibration`` (training
    samples) and measure int8 accuracy. Failures raise ``EvaluationError``."""
    from onnxruntime.quantization import CalibrationMethod
    from onnxruntime.quantization import QuantFormat
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization import quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    start = time.perf_counter()
    pre_path = out_path.with_name(out_path.stem + "_pre.onnx")
    try:
        quant_pre_process(str(float_path), str(pre_path), skip_symbolic_shape=True)
        quantize_static(
            str(pre_path),
            str(out_path),
            _Calibration(calibration, batch=64),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
    except Exception as exc:  # onnxruntime raises many types; the trial fails with the reason
        raise EvaluationError(f"int8 quantization failed: {type(exc).__name__}: {exc}") from exc
    finally:
        pre_path.unlink(missing_ok=True)
    session = _session(out_path, threads=threads)
    return QuantizedModel(
        path=out_path,
        val_accuracy=onnx_accuracy(session, x_val, y_val),
        test_accuracy=onnx_accuracy(session, x_test, y_test),
        float_ops=float_ops(onnx.load(str(out_path))),
        seconds=time.perf_counter() - start,
    )


def _session(path: Path, *, threads: int) -> object:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_accuracy(session: object, x: torch.Tensor, y: torch.Tensor, *, batch: int = 256) -> float:
    """Top-1 accuracy of an onnxruntime ``InferenceSession`` on ``x`` ``[N, C, H, W]`` (NaN
    when empty)."""
    correct = 0
    for i in range(0, len(y), batch):
        (logits,) = session.run(None, {INPUT_NAME: x[i : i + batch].numpy()})  # type: ignore[attr-defined]
        correct += int((np.argmax(logits, axis=1) == y[i : i + batch].numpy()).sum())
    return correct / len(y) if len(y) else math.nan


def float_ops(model: onnx.ModelProto) -> tuple[str, ...]:
    """Op types (sorted, unique) of nodes that would compute in float on the target.

    In a QDQ graph an int8 op reads DequantizeLinear outputs and feeds QuantizeLinear only; a
    node whose float output reaches anything else (or the graph output) computes in float, as
    does one reading a float weight (biases of Conv/Gemm, input 2, excepted)."""
    graph = model.graph
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    float_types = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE}
    float_weights = {
        t.name
        for t in graph.initializer
        if t.data_type in float_types and int(np.prod(t.dims)) > 1
    }
    graph_outputs = {o.name for o in graph.output}
    producers_float = _float_tensors(model)
    found: set[str] = set()
    for node in graph.node:
        if node.op_type in _BOUNDARY_OPS or node.op_type == "Constant":
            continue
        for name in node.output:
            users = consumers.get(name, [])
            escapes = name in graph_outputs or any(u.op_type != "QuantizeLinear" for u in users)
            if name in producers_float and escapes:
                found.add(node.op_type)
        bias_slot = 2 if node.op_type in ("Conv", "Gemm") else -1
        if any(n in float_weights for i, n in enumerate(node.input) if i != bias_slot):
            found.add(node.op_type)
    return tuple(sorted(found))


def _float_tensors(model: onnx.ModelProto) -> set[str]:
    """Names of node outputs whose inferred element type is floating point."""
    float_types = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE}
    return {name for name, (dtype, _) in tensor_types(model).items() if dtype in float_types}


def tensor_types(model: onnx.ModelProto, *, batch: int = 1) -> dict[str, tuple[int, list[int]]]:
    """Element type and static shape of every graph input, output and intermediate tensor,
    with the dynamic batch axis set to ``batch`` (ONNX shape inference)."""
    static = onnx.ModelProto()
    static.CopyFrom(model)
    del static.graph.value_info[:]
    for value in static.graph.input:
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_value = batch
    inferred = onnx.shape_inference.infer_shapes(static, strict_mode=True)
    values = [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]
    return {
        v.name: (
            v.type.tensor_type.elem_type,
            [d.dim_value if d.HasField("dim_value") else -1 for d in v.type.tensor_type.shape.dim],
        )
        for v in values
    }
