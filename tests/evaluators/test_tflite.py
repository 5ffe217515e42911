"""The optional TFLite Micro route (``tflm`` extra) on BasicMotions: int8 ``.tflite`` export,
TFLM accuracy and arena against ai-edge-litert, the float model and the ONNX estimates, the
float-op check, and ``python -m studies compress --tflm`` end to end."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import sys

import numpy as np
import optuna
import pytest
import torch
from torch import nn

from evaluators import make_objective
from evaluators.data import Dataset
from evaluators.export import export_onnx
from evaluators.measure import measure
from evaluators.models import build_model
from evaluators.models import prunable_groups
from evaluators.quantize import quantize_int8
from evaluators.tflite import TFLMResult
from evaluators.tflite import export_tflite
from evaluators.tflite import run_tflm
from evaluators.tflite import tflite_float_ops
from evaluators.train import train_and_prune
from optuna_ars import named_constraints
from studies.__main__ import main
from tests.evaluators.conftest import small_config


@pytest.fixture(scope="module")
def tflm_packages() -> None:
    pytest.importorskip("litert_torch")
    pytest.importorskip("tflite_micro")


@dataclass(frozen=True, kw_only=True)
class _Exported:
    model: nn.Module
    tflite: bytes
    result: TFLMResult


@pytest.fixture(scope="module")
def exported(
    tflm_packages: None, basicmotions: Dataset, tmp_path_factory: pytest.TempPathFactory
) -> _Exported:
    """The UEA net trained 30 epochs (val 0.875, test 0.775 in float; ~4 s), pruned to 80 %,
    exported to int8 .tflite (~7 s) and run by TFLM."""
    data = basicmotions
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the objective does: no oversubscription on a busy machine
    model = build_model("uea", input_shape=data.input_shape, n_classes=data.n_classes)
    groups = prunable_groups(model, data.x_train[:1])
    config = small_config(
        epochs=30,
        batch_size=8,
        lr=0.05,
        pruning_end=0.3,
        pruning_steps=1,
        sparsity={g.name: 0.8 for g in groups},
    )
    try:
        model = train_and_prune(model, data, config).model
        path = tmp_path_factory.mktemp("tflite") / "m.tflite"
        tflite = export_tflite(model, calibration=data.x_train, path=path).read_bytes()
        result = run_tflm(tflite, data.x_val, data.y_val, data.x_test, data.y_test)
    finally:
        torch.set_num_threads(threads)
    return _Exported(model=model, tflite=tflite, result=result)


def _int8_logits(tflite: bytes, x: torch.Tensor, *, arena: int | None) -> tuple[np.ndarray, float]:
    """Dequantized outputs ``(N, classes)`` of the int8 model on NCHW ``x`` and their step
    (the output scale): TFLM's with ``arena`` bytes, else ai-edge-litert's (TFLite's, an
    independent int8 runtime)."""
    from ai_edge_litert.interpreter import Interpreter
    from tflite_micro import runtime

    from evaluators.tflite import _captured_output

    litert = Interpreter(model_content=tflite)
    litert.allocate_tensors()
    (inp,), (out,) = litert.get_input_details(), litert.get_output_details()
    scale, zero = inp["quantization"]
    q = np.clip(np.round(x.permute(0, 2, 3, 1).numpy() / scale) + zero, -128, 127)
    if arena is not None:
        with _captured_output():
            tflm = runtime.Interpreter.from_bytes(tflite, arena_size=arena)
    rows = []
    for sample in q.astype(np.int8):
        if arena is None:
            litert.set_tensor(inp["index"], sample[None])
            litert.invoke()
            rows.append(litert.get_tensor(out["index"])[0])
        else:
            tflm.set_input(sample[None], 0)
            tflm.invoke()
            rows.append(tflm.get_output(0)[0])
    out_scale, out_zero = out["quantization"]
    return (np.array(rows, dtype=np.float64) - out_zero) * out_scale, float(out_scale)


def test_tflm_accuracy_matches_litert_and_float(
    exported: _Exported, basicmotions: Dataset
) -> None:
    # Per sample, so that it holds whatever the network learned: the two int8 runtimes and
    # the float model predict one class wherever the float model's top two logits are more
    # than 8 output steps apart (measured: int8 logits within 2 steps of each other and of
    # the float ones; only closer samples may round the other way).
    data, r = basicmotions, exported.result
    splits = (
        (data.x_val, data.y_val, r.val_accuracy),
        (data.x_test, data.y_test, r.test_accuracy),
    )
    for x, y, tflm_acc in splits:
        tflm, step = _int8_logits(exported.tflite, x, arena=r.arena_bytes)
        assert tflm_acc == pytest.approx(float(np.mean(tflm.argmax(1) == y.numpy())))
        litert, _ = _int8_logits(exported.tflite, x, arena=None)
        assert np.abs(tflm - litert).max() <= 4 * step  # one arithmetic, rounded apart
        with torch.no_grad():
            logits = exported.model.eval()(x).numpy()
        top2 = np.sort(logits, 1)[:, -2:]
        clear = top2[:, 1] - top2[:, 0] > 8 * step
        for int8 in (tflm, litert):
            assert (int8.argmax(1)[clear] == logits.argmax(1)[clear]).all()
    assert r.file_bytes == len(exported.tflite) and r.seconds > 0


def test_tflm_arena_is_the_smallest_that_works(exported: _Exported) -> None:
    from tflite_micro import runtime

    from evaluators.tflite import _captured_output

    r = exported.result
    assert 0 < r.arena_used_bytes <= r.arena_bytes
    assert r.arena_used_bytes == r.arena_head_bytes + r.arena_tail_bytes
    interpreter = runtime.Interpreter.from_bytes(exported.tflite, arena_size=r.arena_bytes)
    shape = tuple(interpreter.get_input_details(0)["shape"])
    interpreter.set_input(np.zeros(shape, dtype=np.int8), 0)
    interpreter.invoke()
    assert interpreter.get_output(0).shape == (1, 4)
    for size in (r.arena_bytes - 1, r.arena_bytes // 2):
        with _captured_output(), pytest.raises(RuntimeError):
            runtime.Interpreter.from_bytes(exported.tflite, arena_size=size)


def test_estimate_and_tflm_arena_agree(
    exported: _Exported, basicmotions: Dataset, tmp_path: Path
) -> None:
    data = basicmotions
    float_onnx = export_onnx(exported.model, data.x_train[:1], tmp_path / "f.onnx").path
    int8 = quantize_int8(
        float_onnx,
        tmp_path / "q.onnx",
        calibration=data.x_train,
        x_val=data.x_val,
        y_val=data.y_val,
        x_test=data.x_test,
        y_test=data.y_test,
    )
    estimate, r = measure(exported.model, data.x_train[:1], int8.path), exported.result
    # Measured: activation plan 6300 (estimate) vs TFLM head 6224 B (0.99x); persistent tail
    # 22240 vs 27904 B (1.25x: 64-bit host structs); total SRAM 28540 vs smallest working
    # arena 35264 B (1.24x). A unit error (bits, KiB, float activations) falls outside.
    assert 0.5 <= r.arena_head_bytes / estimate.arena_bytes <= 2.0  # 0.81-1.18 in 5 trials
    assert 0.8 <= r.arena_bytes / estimate.sram_bytes <= 2.0
    # Measured 1.44x: TFLite keeps int64 zero points per channel and tensor names.
    assert 0.8 <= r.file_bytes / estimate.flash_bytes <= 2.0


def test_float_ops_found_on_a_float_leaving_graph(exported: _Exported, tmp_path: Path) -> None:
    assert exported.result.float_ops == () == tflite_float_ops(exported.tflite)

    class WithGelu(nn.Module):  # PT2E's quantizer has no int8 GELU: it stays in float
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(2, 4, (1, 3), padding=(0, 1))
            self.fc = nn.Linear(4, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(nn.functional.gelu(self.conv(x)).mean((2, 3)))

    torch.manual_seed(0)
    path = export_tflite(
        WithGelu(), calibration=torch.randn(8, 2, 1, 16), path=tmp_path / "g.tflite"
    )
    assert "GELU" in tflite_float_ops(path.read_bytes())


def test_compress_tflm_end_to_end(
    tflm_packages: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = f"sqlite:///{tmp_path / 'x.db'}"
    models = tmp_path / "models"
    argv = ["compress", "--quick", "--trials", "1", "--storage", storage, "--study-name", "t"]
    assert main([*argv, "--tflm", "--artifact-dir", str(models), "--no-progress"]) == 0
    assert "1 complete, 0 failed" in capsys.readouterr().out
    study = optuna.load_study(study_name="t", storage=storage)
    (trial,) = study.trials
    a = trial.user_attrs
    assert study.user_attrs["deliverable"] == "tflite"
    names = ["1-cv_acc_int8", "tflite_bytes", "tflm_arena_bytes", "flops"]
    assert study.user_attrs["objectives"] == names  # what the values below are
    assert trial.values == [
        1.0 - a["val_accuracy_int8"],  # cross-validated (--quick: 2 folds)
        a["tflite_bytes"],
        a["tflm_arena_bytes"],
        a["flops"],
    ]
    assert named_constraints(trial) == {
        "flash": a["tflite_bytes"] - 1_000_000,
        "sram": a["tflm_arena_bytes"] - 256 * 1024,
        "flops": a["flops"] - 1e9,
    }
    for key in ("tflm_test_accuracy", "sram_bytes", "flash_bytes", "cv_val_accuracies_int8"):
        assert key in a  # the ONNX-based estimates stay next to TFLM's numbers
    assert "tflm_val_accuracy" not in a  # the deliverable is fitted on all training data
    spec = a["deployment"]["input"]  # what the firmware needs: int8 NHWC, its scale
    assert spec["dtype"] == "int8" and spec["layout"] == "NHWC" and spec["int8_scale"] > 0
    assert a["tflite_float_ops"] == [] and "warning" not in a and a["seconds_tflite"] > 0
    (artifact,) = models.iterdir()
    assert artifact.read_bytes()[4:8] == b"TFL3"  # the .tflite is the stored deliverable
    with pytest.raises(SystemExit):  # resuming without --tflm would mix deliverables
        main([*argv, "--no-artifacts"])
    assert "would mix" in capsys.readouterr().err


def test_tflm_without_the_extra_is_an_import_error_with_the_hint(
    basicmotions: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tflite_micro", None)  # import fails as if not installed
    with pytest.raises(ImportError, match=r"pip install 'optuna-ars\[tflm\]'"):
        make_objective(dataset=basicmotions, tflm=True)


def test_bad_calibration_shape_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"got shape \(1, 2, 1, 16\)"):
        export_tflite(nn.Identity(), calibration=torch.zeros(1, 2, 1, 16), path=tmp_path / "m")
