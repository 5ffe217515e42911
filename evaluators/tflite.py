"""Stage 5b (optional extra ``tflm``): an int8 ``.tflite`` for TensorFlow Lite Micro, measured by
TFLM's own interpreter. Install with ``pip install 'optuna-ars[tflm]'`` (litert-torch, which
brings ai-edge-litert, and tflite-micro); ``import evaluators`` works without it.

Scheme: ``torch.export`` of the pruned float model (eval mode) with an NHWC input
(``litert_torch.to_channel_last_io``: no TRANSPOSE in the graph) -> PT2E post-training
quantization with litert-torch's ``PT2EQuantizer`` (int8 activations per tensor, int8 weights
symmetric per output channel, int32 biases; histogram calibration on training samples) ->
``litert_torch.convert`` in static QDQ mode. The converter folds the boundary quantize and
dequantize into the graph's interface, so the model's input and output are int8 (scale and
zero point in the tensors' quantization parameters) and every op of the networks here is int8.

From TFLM (``tflite_micro.runtime``, reference kernels, one sample per ``invoke``): the int8
validation and test accuracy, and the arena (``arena_bytes``: the smallest ``arena_size`` with
which the interpreter allocates and runs, found by bisection; ``arena_used_bytes``: the head +
tail its ``RecordingMicroAllocator`` reports). The flash figure is the ``.tflite`` size. All
arena numbers are measured on this 64-bit host, whose interpreter structs are larger than on a
32-bit microcontroller (the tail is an upper bound there).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
import contextlib
from dataclasses import dataclass
import io
import math
import os
from pathlib import Path
import re
import sys
import tempfile
import time
from typing import Any
import warnings

import numpy as np
import torch
from torch import nn

from evaluators.train import EvaluationError

INSTALL_HINT = "pip install 'optuna-ars[tflm]'"
_MAX_ARENA = 1 << 30  # give up (EvaluationError) when even 1 GiB does not allocate
_FIRST_ARENA = 1 << 20
_BOUNDARY_OPS = frozenset({"QUANTIZE", "DEQUANTIZE"})


@dataclass(frozen=True, kw_only=True)
class TFLMResult:
    """What TFLM measured on one ``.tflite`` (batch 1)."""

    val_accuracy: float
    test_accuracy: float
    arena_bytes: int  # smallest arena_size that allocates and runs: the SRAM to reserve
    arena_used_bytes: int  # head + tail reported by TFLM's RecordingMicroAllocator
    arena_head_bytes: int  # non-persistent part: the activation plan
    arena_tail_bytes: int  # persistent part: interpreter state, op data
    file_bytes: int  # the .tflite size: what goes into flash
    float_ops: tuple[str, ...]  # op names that compute in float (empty: fully int8)
    seconds: float


def require_tflm() -> None:
    """Import the optional packages; ``ImportError`` with the install hint when missing."""
    try:
        with _captured_output():  # torchao prints failed optional kernel loads
            import ai_edge_litert.interpreter  # noqa: F401
            import litert_torch  # noqa: F401
            import tflite_micro  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"the TFLite Micro route needs the optional extra: {INSTALL_HINT} "
            f"(litert-torch and tflite-micro); missing: {exc.name or exc}"
        ) from exc


def export_tflite(model: nn.Module, *, calibration: torch.Tensor, path: Path) -> Path:
    """Quantize ``model`` to int8 and write the ``.tflite`` to ``path``.

    ``calibration`` is ``[N, C, H, W]`` (training samples; N >= 2, the batch axis is exported
    dynamic for calibration and fixed to 1 by the conversion). The written model takes
    ``[1, H, W, C]`` int8 input and returns ``[1, n_classes]`` int8 logits. Failures raise
    ``EvaluationError`` with the reason.
    """
    if calibration.ndim != 4 or len(calibration) < 2:
        raise ValueError(
            f"calibration must be [N >= 2, C, H, W], got shape {tuple(calibration.shape)}"
        )
    nhwc = calibration.permute(0, 2, 3, 1).contiguous()
    model.eval()
    with _captured_output() as log:
        try:
            import litert_torch
            from litert_torch.quantize import pt2e_quantizer
            from litert_torch.quantize import quant_config
            from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e
            from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e

            wrapped = litert_torch.to_channel_last_io(model, args=[0]).eval()
            batch = torch.export.Dim("n")
            graph = torch.export.export(
                wrapped, (nhwc[:2],), dynamic_shapes={"args": ({0: batch},)}
            ).module()
            quantizer = pt2e_quantizer.PT2EQuantizer().set_global(
                pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=True)
            )
            prepared = prepare_pt2e(graph, quantizer)
            with torch.no_grad():
                prepared(nhwc)
            quantized = convert_pt2e(prepared, fold_quantize=False)
            # Traced in eval mode already; clear the flag litert-torch warns about (the
            # exported module's own .eval() is disabled).
            nn.Module.train(quantized, False)
            edge = litert_torch.convert(
                quantized,
                (nhwc[:1],),
                quant_config=quant_config.QuantConfig(pt2e_quantizer=quantizer),
            )
            path.write_bytes(edge.model_content())
        except Exception as exc:  # export, quantizer and converter raise many types
            raise EvaluationError(
                f"TFLite export failed: {type(exc).__name__}: {exc}{_tail(log())}"
            ) from exc
    return path


def tflite_float_ops(tflite_bytes: bytes) -> tuple[str, ...]:
    """Op names (sorted, unique) that compute in float: any op reading or writing a float
    tensor, except a QUANTIZE of a graph input and a DEQUANTIZE into a graph output (float
    IO). Read with ai-edge-litert's interpreter without delegates (no allocation needed)."""
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_litert.interpreter import OpResolverType

    with _captured_output():
        interpreter = Interpreter(
            model_content=tflite_bytes,
            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        )
    dtypes = {t["index"]: np.dtype(t["dtype"]) for t in interpreter.get_tensor_details()}
    inputs = {d["index"] for d in interpreter.get_input_details()}
    outputs = {d["index"] for d in interpreter.get_output_details()}
    found: set[str] = set()
    for op in interpreter._get_ops_details():
        name = str(op["op_name"])
        ins = [int(i) for i in op["inputs"] if i >= 0]
        outs = [int(i) for i in op["outputs"] if i >= 0]
        if name == "QUANTIZE" and set(ins) <= inputs:
            continue
        if name == "DEQUANTIZE" and set(outs) <= outputs:
            continue
        if any(i in dtypes and dtypes[i].kind == "f" for i in ins + outs):
            found.add(name)
    return tuple(sorted(found))


def run_tflm(
    tflite_bytes: bytes,
    x_val: torch.Tensor,
    y_val: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    *,
    check: Callable[[str], None] = lambda where: None,
) -> TFLMResult:
    """Measure ``tflite_bytes`` (from :func:`export_tflite`) with TFLM's interpreter.

    ``check(where)`` is called between bisection steps and samples (a time limit raises
    from it: :func:`evaluators.train.check_deadline`). An empty split's accuracy is NaN.

    ``x_*`` are ``[N, C, H, W]`` float (standardised, as for the float model); they are
    transposed to the model's NHWC input and quantized with its scale and zero point when the
    input is int8. The arena: a generous one first, TFLM's reported use read from
    ``print_allocations``, then the smallest working ``arena_size`` by bisection (the reported
    use is not enough by itself: TFLM's memory planner needs temporary scratch on top while
    allocating). Accuracy is measured with an interpreter of exactly that arena size.
    Interpreter failures (an op TFLM lacks, no arena up to 1 GiB) raise ``EvaluationError``.
    """
    from tflite_micro import runtime

    start = time.perf_counter()
    probe, size = _first_interpreter(tflite_bytes)
    with _captured_output() as log:
        probe.print_allocations()
        printed = log()
    used = {k: int(v) for k, v in re.findall(r"allocation (total|head|tail) (\d+) bytes", printed)}
    if set(used) != {"total", "head", "tail"}:
        raise EvaluationError(f"TFLM printed no arena use{_tail(printed)}")
    arena = _smallest_arena(tflite_bytes, low=used["total"], high=size, check=check)
    with _captured_output():
        interpreter = runtime.Interpreter.from_bytes(tflite_bytes, arena_size=arena)
    return TFLMResult(
        val_accuracy=_accuracy(interpreter, x_val, y_val, check=check),
        test_accuracy=_accuracy(interpreter, x_test, y_test, check=check),
        arena_bytes=arena,
        arena_used_bytes=used["total"],
        arena_head_bytes=used["head"],
        arena_tail_bytes=used["tail"],
        file_bytes=len(tflite_bytes),
        float_ops=tflite_float_ops(tflite_bytes),
        seconds=time.perf_counter() - start,
    )


def _first_interpreter(tflite_bytes: bytes) -> tuple[Any, int]:
    """A TFLM interpreter with a generous arena (1 MiB, x4 until it allocates) and its size."""
    from tflite_micro import runtime

    size = _FIRST_ARENA
    while True:
        with _captured_output() as log:
            try:
                return runtime.Interpreter.from_bytes(tflite_bytes, arena_size=size), size
            except RuntimeError as exc:
                if size >= _MAX_ARENA:
                    raise EvaluationError(
                        f"TFLM cannot run the model ({exc}, arena {size} B){_tail(log())}"
                    ) from exc
        size *= 4


def _smallest_arena(
    tflite_bytes: bytes, *, low: int, high: int, check: Callable[[str], None]
) -> int:
    """Smallest ``arena_size`` in ``[low, high]`` that allocates (``high`` does); byte exact."""
    from tflite_micro import runtime

    def fits(size: int) -> bool:
        with _captured_output():
            try:
                runtime.Interpreter.from_bytes(tflite_bytes, arena_size=size)
            except RuntimeError:
                return False
        return True

    low -= 1  # invariant: ``low`` fails (less than TFLM's own reported use), ``high`` fits
    while high - low > 1:
        check("in the TFLM arena bisection")
        mid = (low + high) // 2
        low, high = (low, mid) if fits(mid) else (mid, high)
    return high


def _accuracy(
    interpreter: Any, x: torch.Tensor, y: torch.Tensor, *, check: Callable[[str], None]
) -> float:
    """Top-1 accuracy, one ``invoke`` per sample (argmax of the raw output: dequantizing is
    monotonic). ``x`` is ``[N, C, H, W]``; ``ValueError`` when it does not fit the input."""
    details = interpreter.get_input_details(0)
    shape = tuple(int(d) for d in details["shape"])
    nhwc = x.permute(0, 2, 3, 1).numpy()
    if nhwc.shape[1:] != shape[1:]:
        raise ValueError(
            f"x of shape {tuple(x.shape)} (NCHW) does not fit the model input {shape} (NHWC)"
        )
    dtype = np.dtype(details["dtype"])
    if dtype.kind == "i":
        quant = details["quantization_parameters"]
        scale, zero = float(quant["scales"][0]), int(quant["zero_points"][0])
        info = np.iinfo(dtype)
        nhwc = np.clip(np.round(nhwc / scale) + zero, info.min, info.max)
    nhwc = nhwc.astype(dtype)
    correct = 0
    for sample, label in zip(nhwc, y.tolist(), strict=True):
        check("in the TFLM accuracy run")
        interpreter.set_input(sample[None], 0)
        interpreter.invoke()
        correct += int(np.argmax(interpreter.get_output(0)) == label)
    return correct / len(y) if len(y) else math.nan


@contextlib.contextmanager
def _captured_output() -> Iterator[Callable[[], str]]:
    """Send file descriptors 1 and 2 (C++ logs, TFLM's ``print_allocations``) and Python's
    ``sys.stdout``/``sys.stderr`` (litert-torch's progress lines) and warnings to a temporary
    file; yields a function that returns what was written so far. The descriptors are
    process-wide: output of other threads in the meantime is captured too."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    text = io.StringIO()
    with tempfile.TemporaryFile() as file:

        def read() -> str:
            file.flush()
            file.seek(0)
            return text.getvalue() + file.read().decode(errors="replace")

        try:
            os.dup2(file.fileno(), 1)
            os.dup2(file.fileno(), 2)
            with (
                contextlib.redirect_stdout(text),
                contextlib.redirect_stderr(text),
                warnings.catch_warnings(),
            ):
                warnings.simplefilter("ignore")
                yield read
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _tail(log: str, lines: int = 5) -> str:
    """The last non-empty ``lines`` of captured output, as a suffix for an error message."""
    kept = [line for line in log.splitlines() if line.strip()][-lines:]
    return "; output: " + " | ".join(kept) if kept else ""
