"""Stage 6: the three resource objectives of the paper (Sec. 3): FLOPs, flash, SRAM.

* **FLOPs** of the pruned float network for one sample, counted by torch's
  ``FlopCounterMode``: convolutions and matrix products only, FLOPs = 2 x MACs (element-wise
  ops, activations and pooling are not counted).
* **Flash** (ROM) of the int8 ONNX graph: every initializer at its stored dtype (int8 weights,
  int32 biases, float32 scales, int8 zero points, any constant left in float) plus the graph
  description (nodes, attributes, shapes) serialized with names shortened, as a converter to a
  flatbuffer or C source would store it. The exported file's size is reported next to it.
* **SRAM** (RAM): TensorFlow Lite Micro's greedy arena plan over the activation tensors of the
  int8 graph as deployed (each DequantizeLinear -> op -> QuantizeLinear runs as one int8 op,
  so its tensors are int8; a tensor left in float keeps its float size), batch 1, plus an
  estimate of TFLM's persistent arena tail (see :func:`persistent_bytes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import onnx
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from evaluators.quantize import tensor_types

# TFLM persistent arena tail (32-bit MCU), an estimate: allocator and interpreter state, one
# TfLiteEvalTensor (12 B) + quantization pointer per tensor, one TfLiteNode + registration per
# op, op data per conv/matmul, and the per-channel int32 multiplier and shift (8 B / channel).
PERSISTENT_BASE = 1024
PERSISTENT_PER_TENSOR = 16
PERSISTENT_PER_OP = 32
PERSISTENT_PER_KERNEL_OP = 64
PERSISTENT_PER_CHANNEL = 8

_KERNEL_OPS = frozenset({"Conv", "Gemm", "MatMul"})
_FUSED = frozenset({"QuantizeLinear", "DequantizeLinear"})


@dataclass(frozen=True, kw_only=True)
class Footprint:
    """Resource use of one exported network (bytes, FLOPs for one sample)."""

    flops: int
    params: int
    flash_bytes: int  # weight_bytes + graph_bytes
    weight_bytes: int
    graph_bytes: int
    file_bytes: int
    sram_bytes: int  # arena_bytes + persistent_bytes
    arena_bytes: int
    persistent_bytes: int


@dataclass(frozen=True, kw_only=True)
class Buffer:
    """An activation tensor: bytes, and the first and last op index (inclusive) it is live."""

    name: str
    size: int
    first: int
    last: int


def count_flops(model: nn.Module, example: torch.Tensor) -> int:
    """FLOPs (2 x MACs of conv and linear layers) of ``model`` on ``example[:1]``."""
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(example[:1])
    return int(counter.get_total_flops())


def greedy_arena(buffers: Sequence[tuple[int, int, int]]) -> int:
    """Peak arena bytes of TFLM's ``GreedyMemoryPlanner`` for ``(size, first, last)`` buffers.

    Buffers are placed largest first (ties: earlier index first); each goes to the lowest
    offset where it does not overlap any placed buffer whose lifetime ``[first, last]``
    (inclusive) intersects its own."""
    order = sorted(range(len(buffers)), key=lambda i: (-buffers[i][0], i))
    placed: list[tuple[int, int, int, int]] = []  # (offset, size, first, last)
    peak = 0
    for i in order:
        size, first, last = buffers[i]
        live = sorted(
            (off, sz) for off, sz, f, la in placed if not (la < first or last < f) and sz > 0
        )
        offset = 0
        for off, sz in live:
            if offset + size <= off:
                break
            offset = max(offset, off + sz)
        placed.append((offset, size, first, last))
        peak = max(peak, offset + size)
    return peak


def activation_buffers(model: onnx.ModelProto) -> tuple[list[Buffer], list[onnx.NodeProto]]:
    """Activation buffers of the deployed int8 graph (Q/DQ fused) and its op list (order of
    execution). A tensor seen through a QuantizeLinear is int8; others keep their dtype."""
    graph = model.graph
    types = tensor_types(model)
    initializers = {t.name for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}

    def canonical(name: str) -> str:
        node = producer.get(name)
        while node is not None and node.op_type in _FUSED and node.input[0] not in initializers:
            name = node.input[0]
            node = producer.get(name)
        return name

    quantized = {canonical(n.output[0]) for n in graph.node if n.op_type == "QuantizeLinear"}
    ops = [n for n in graph.node if n.op_type not in _FUSED and n.op_type != "Constant"]
    spans: dict[str, list[int]] = {canonical(v.name): [0, 0] for v in graph.input}
    for index, node in enumerate(ops):
        for name in node.input:
            if name and name not in initializers and canonical(name) in spans:
                spans[canonical(name)][1] = index
        for name in node.output:
            spans.setdefault(canonical(name), [index, index])
    for value in graph.output:
        spans[canonical(value.name)][1] = len(ops) - 1
    buffers = []
    for name, (first, last) in spans.items():
        dtype, shape = types[name]
        itemsize = 1 if name in quantized else onnx.helper.tensor_dtype_to_np_dtype(dtype).itemsize
        numel = 1
        for d in shape:
            numel *= max(d, 1)
        buffers.append(Buffer(name=name, size=numel * itemsize, first=first, last=last))
    return buffers, ops


def persistent_bytes(ops: Sequence[onnx.NodeProto], n_tensors: int, out_channels: int) -> int:
    """Estimated TFLM persistent arena tail (constants at the top of this module)."""
    kernels = sum(1 for op in ops if op.op_type in _KERNEL_OPS)
    return (
        PERSISTENT_BASE
        + PERSISTENT_PER_TENSOR * n_tensors
        + PERSISTENT_PER_OP * len(ops)
        + PERSISTENT_PER_KERNEL_OP * kernels
        + PERSISTENT_PER_CHANNEL * out_channels
    )


def flash_bytes(model: onnx.ModelProto) -> tuple[int, int]:
    """``(weight_bytes, graph_bytes)``: initializer payloads at their dtype, and the graph
    serialized without payloads, doc strings or metadata and with short tensor names."""
    weights = 0
    for tensor in model.graph.initializer:
        numel = 1
        for d in tensor.dims:
            numel *= d
        weights += numel * onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
    graph = onnx.GraphProto()
    graph.CopyFrom(model.graph)
    names: dict[str, str] = {}

    def short(name: str) -> str:
        return names.setdefault(name, format(len(names), "x")) if name else name

    for tensor in graph.initializer:
        tensor.ClearField("raw_data")
        for field in ("float_data", "int32_data", "int64_data", "double_data"):
            tensor.ClearField(field)
        tensor.name = short(tensor.name)
    for node in graph.node:
        node.name = ""
        node.doc_string = ""
        node.input[:] = [short(n) for n in node.input]
        node.output[:] = [short(n) for n in node.output]
    for value in [*graph.input, *graph.output]:
        value.name = short(value.name)
    graph.ClearField("value_info")
    graph.name = ""
    return weights, len(graph.SerializeToString())


def measure(model: nn.Module, example: torch.Tensor, int8_path: Path) -> Footprint:
    """All resource figures for the pruned float ``model`` and its int8 export."""
    proto = onnx.load(str(int8_path))
    buffers, ops = activation_buffers(proto)
    arena = greedy_arena([(b.size, b.first, b.last) for b in buffers])
    types = tensor_types(proto)
    channels = sum(
        types[op.output[0]][1][1] for op in ops if op.op_type in _KERNEL_OPS and op.output
    )
    persistent = persistent_bytes(ops, len(buffers), channels)
    weights, graph = flash_bytes(proto)
    return Footprint(
        flops=count_flops(model, example),
        params=sum(p.numel() for p in model.parameters()),
        flash_bytes=weights + graph,
        weight_bytes=weights,
        graph_bytes=graph,
        file_bytes=int8_path.stat().st_size,
        sram_bytes=arena + persistent,
        arena_bytes=arena,
        persistent_bytes=persistent,
    )
