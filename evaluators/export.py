"""Stage 5a: export the pruned float network to ONNX (one file, dynamic batch axis).

The int8 ONNX that :mod:`evaluators.quantize` derives from it is the deliverable, unless the
optional TFLite Micro route runs (:mod:`evaluators.tflite`, ``tflm=True``), whose ``.tflite``
then is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import time
import warnings

import torch
from torch import nn

from evaluators.train import EvaluationError

INPUT_NAME = "input"
OUTPUT_NAME = "logits"
OPSET = 17


@dataclass(frozen=True, kw_only=True)
class ExportedModel:
    """A float ONNX file with input ``[n, C, H, W]`` and output ``[n, n_classes]``."""

    path: Path
    seconds: float


def export_onnx(
    model: nn.Module, example: torch.Tensor, path: Path, *, dynamo: bool = False
) -> ExportedModel:
    """Export ``model`` (eval mode) to ``path``; ``example`` is one input ``[1, C, H, W]``.

    The TorchScript exporter (``dynamo=False``, default) takes ~0.1 s and keeps global pooling
    as ``GlobalAveragePool``, which quantizes; the dynamo exporter takes seconds and emits
    ``ReduceMean``, which onnxruntime leaves in float. Failures raise ``EvaluationError``.
    """
    start = time.perf_counter()
    model.eval()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if dynamo:
                torch.onnx.export(
                    model,
                    (example,),
                    str(path),
                    dynamo=True,
                    external_data=False,
                    input_names=[INPUT_NAME],
                    output_names=[OUTPUT_NAME],
                    dynamic_shapes=({0: torch.export.Dim("n")},),
                    verbose=False,
                )
            else:
                torch.onnx.export(
                    model,
                    (example,),
                    str(path),
                    dynamo=False,
                    opset_version=OPSET,
                    input_names=[INPUT_NAME],
                    output_names=[OUTPUT_NAME],
                    dynamic_axes={INPUT_NAME: {0: "n"}, OUTPUT_NAME: {0: "n"}},
                )
    except Exception as exc:  # the exporters raise many types; the trial fails with the reason
        raise EvaluationError(f"ONNX export failed: {type(exc).__name__}: {exc}") from exc
    return ExportedModel(path=path, seconds=time.perf_counter() - start)
