"""SRAM planner and flash/FLOP counting on hand-made graphs with exact expected values."""

from __future__ import annotations

import onnx
from onnx import TensorProto
from onnx import helper
import pytest
import torch
from torch import nn

from evaluators.measure import activation_buffers
from evaluators.measure import count_flops
from evaluators.measure import flash_bytes
from evaluators.measure import greedy_arena
from evaluators.quantize import float_ops


def test_greedy_arena_chain() -> None:
    # x -op0-> a -op1-> b -op2-> c: (size, first op, last op). Live pairs: (x, a) at op 0,
    # (a, b) at op 1, (b, c) at op 2. Largest first: x@0, b@0 (x dead by op 1), a must avoid
    # both -> @100, c avoids b -> @80. Peak = 100 + 60 = 160 (= max live pair a + x).
    buffers = [(100, 0, 0), (60, 0, 1), (80, 1, 2), (40, 2, 2)]
    assert greedy_arena(buffers) == 160


def test_greedy_arena_residual() -> None:
    # x (64 B) feeds op0 and the add (op2): lives [0, 2]. a = op0(x) [0, 1], b = op1(a)
    # [1, 2], c = add(x, b) [2, 3]. At op 2, x + b + c = 64 + 32 + 64 = 160 are live.
    buffers = [(64, 0, 2), (32, 0, 1), (32, 1, 2), (64, 2, 3)]
    assert greedy_arena(buffers) == 160


def test_greedy_arena_reuses_dead_memory() -> None:
    # Two large buffers that are never live together share offset 0.
    assert greedy_arena([(1000, 0, 0), (1000, 1, 1), (10, 0, 1)]) == 1010
    assert greedy_arena([]) == 0


def test_greedy_arena_places_largest_first() -> None:
    # Largest first: 50@0 [0,1]; 40 [2,3] -> @0; 30 [1,2] overlaps both -> @50; peak 80.
    assert greedy_arena([(30, 1, 2), (50, 0, 1), (40, 2, 3)]) == 80


def _qdq_residual_model(*, float_relu: bool = False) -> onnx.ModelProto:
    """input[1,4,1,8] -Q-DQ-> Relu -Q-DQ-> Add(x, relu) -Q-DQ-> output (all int8); with
    ``float_relu`` the Add reads the Relu's float output directly."""
    s = helper.make_tensor("s", TensorProto.FLOAT, [], [0.1])
    z = helper.make_tensor("z", TensorProto.INT8, [], [0])
    nodes = [
        helper.make_node("QuantizeLinear", ["input", "s", "z"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"]),
        helper.make_node("Relu", ["xd"], ["r"]),
        helper.make_node("QuantizeLinear", ["r", "s", "z"], ["rq"]),
        helper.make_node("DequantizeLinear", ["rq", "s", "z"], ["rd"]),
        helper.make_node("Add", ["xd", "r" if float_relu else "rd"], ["a"]),
        helper.make_node("QuantizeLinear", ["a", "s", "z"], ["aq"]),
        helper.make_node("DequantizeLinear", ["aq", "s", "z"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 4, 1, 8])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["n", 4, 1, 8])],
        initializer=[s, z],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_activation_buffers_fuse_qdq_and_use_int8_sizes() -> None:
    buffers, ops = activation_buffers(_qdq_residual_model())
    assert [op.op_type for op in ops] == ["Relu", "Add"]
    spans = {b.name: (b.size, b.first, b.last) for b in buffers}
    # 32 int8 values each; input lives until the Add (op 1), the output until the end.
    assert spans == {"input": (32, 0, 1), "r": (32, 0, 1), "a": (32, 1, 1)}
    assert greedy_arena(list(spans.values())) == 96


def test_float_ops_are_reported() -> None:
    assert float_ops(_qdq_residual_model()) == ()
    assert float_ops(_qdq_residual_model(float_relu=True)) == ("Relu",)


def test_flash_counts_payload_at_dtype() -> None:
    model = _qdq_residual_model()
    weights, graph = flash_bytes(model)
    assert weights == 4 + 1  # one float32 scale, one int8 zero point
    assert 0 < graph < len(model.SerializeToString())


def test_flops_are_twice_the_macs() -> None:
    model = nn.Sequential(nn.Conv2d(2, 3, (1, 3), padding=(0, 1)), nn.Flatten(), nn.Linear(30, 5))
    macs = 3 * 2 * 3 * 10 + 30 * 5  # conv: C_out * C_in * k * L; linear: in * out
    assert count_flops(model, torch.zeros(4, 2, 1, 10)) == 2 * macs


@pytest.mark.parametrize("size", [1, 7])
def test_greedy_arena_single_buffer(size: int) -> None:
    assert greedy_arena([(size, 0, 5)]) == size
