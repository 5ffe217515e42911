"""Networks of Sec. 4, their prunable groups, and training with AGP pruning."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from evaluators.data import Dataset
from evaluators.models import build_model
from evaluators.models import prunable_groups
from evaluators.train import EvaluationError
from evaluators.train import agp_schedule
from evaluators.train import pruning_schedule
from evaluators.train import steps_per_epoch
from evaluators.train import train_and_prune
from tests.evaluators.conftest import small_config


@pytest.mark.parametrize(
    ("name", "shape", "n_groups"),
    [("uea", (6, 1, 100), 16), ("resnet", (3, 32, 32), 9), ("mobilenet", (24, 1, 256), 27)],
)
def test_models_forward_and_groups(name: str, shape: tuple[int, int, int], n_groups: int) -> None:
    model = build_model(name, input_shape=shape, n_classes=5).eval()
    x = torch.randn(2, *shape)
    assert model(x).shape == (2, 5)
    groups = prunable_groups(model, x[:1])
    assert len(groups) == n_groups
    assert all(g.name != "classifier" for g in groups)


def test_uea_net_structure() -> None:
    model = build_model("uea", input_shape=(6, 1, 100), n_classes=4)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    depthwise = [m for m in convs if m.groups > 1]
    assert len(depthwise) == 10  # 10 depthwise-separable convs
    assert all(m.kernel_size[0] == 1 for m in convs)  # (1, k) kernels for MCU runtimes
    assert 2.5e6 < sum(p.numel() for p in model.parameters()) < 2.9e6  # paper: 2.6 M


def test_resnet_residual_couples_channels() -> None:
    model = build_model("resnet", input_shape=(3, 32, 32), n_classes=10)
    groups = {g.name: g.channels for g in prunable_groups(model, torch.zeros(1, 3, 32, 32))}
    # Stem + the first stage's two blocks' outputs share one group (identity shortcuts).
    assert "features.0" in groups and "features.3.body.3" not in groups


def test_agp_schedule_is_cubic() -> None:
    assert agp_schedule(0.8, 2) == pytest.approx([0.0, 0.7, 0.8])
    # after optimizer steps 4, 6, 8 (1-based) of 10
    assert pruning_schedule(10, start=0.2, end=0.8, steps=3) == [3, 5, 7]
    # --quick used to run 3 of 18 steps after the last epoch: now all before fine-tuning
    assert pruning_schedule(2, start=0.1, end=0.9, steps=18) == [0] * 18


@pytest.mark.parametrize("start", [0.0, 0.3, 0.6])
@pytest.mark.parametrize("end", [0.8, 0.95, 1.0])
def test_pruning_schedule_always_leaves_fine_tuning(start: float, end: float) -> None:
    for total in range(1, 301):
        for steps in range(1, 21):
            at = pruning_schedule(total, start=start, end=end, steps=steps)
            assert len(at) == steps and at == sorted(at) and at[0] >= 0
            if total >= 2:  # at least one optimizer step after the last pruning step ...
                assert at[-1] <= total - 2
            if total >= 20:  # ... and the (1 - end) share of them; the last lands near end
                assert total - 1 - at[-1] >= max(1, round((1 - end) * total))
                assert at[-1] >= round(end * total) - 2


def test_pruning_schedule_and_steps_reject_or_count_edge_cases() -> None:
    with pytest.raises(ValueError, match="total_steps=0"):
        pruning_schedule(0, start=0.0, end=0.9, steps=3)
    with pytest.raises(ValueError, match=r"start=0\.9, end=0\.5"):
        pruning_schedule(10, start=0.9, end=0.5, steps=3)
    assert pruning_schedule(1, start=0.0, end=0.9, steps=3) == [0, 0, 0]  # nothing after
    # a last batch of one sample is skipped (batch norm)
    assert [steps_per_epoch(n, 4) for n in (1, 2, 4, 5, 6, 12, 13)] == [0, 1, 1, 1, 2, 3, 3]


def test_extreme_sparsity_keeps_channels(tiny: Dataset) -> None:
    model = build_model("uea", input_shape=tiny.input_shape, n_classes=3)
    groups = prunable_groups(model, tiny.x_train[:1])
    config = small_config(sparsity={g.name: 0.99 for g in groups})
    result = train_and_prune(model, tiny, config)
    convs = [m for m in result.model.modules() if isinstance(m, nn.Conv2d)]
    assert min(m.out_channels for m in convs) >= 4
    assert result.model(tiny.x_test).shape == (6, 3)
    # 2 epochs x 3 steps; pruning over [0, 0.5] of them, steps 4-6 left to fine-tune
    assert result.pruning_steps == (1, 2) and result.sgd_steps == 6


def test_bad_training_inputs(tiny: Dataset) -> None:
    model = build_model("uea", input_shape=tiny.input_shape, n_classes=3)
    with pytest.raises(ValueError, match="batch_size=13 is larger than the 12"):
        train_and_prune(model, tiny, small_config(batch_size=13))
    with pytest.raises(ValueError, match="not modules"):
        train_and_prune(model, tiny, small_config(sparsity={"nope": 0.5}))
    with pytest.raises(ValueError, match=r"epochs=0.*lr=-1"):
        small_config(epochs=0, lr=-1.0)
    with pytest.raises(ValueError, match="sparsity"):
        small_config(sparsity={"x": 1.0})


def test_nan_loss_is_an_evaluation_error(tiny: Dataset) -> None:
    model = build_model("uea", input_shape=tiny.input_shape, n_classes=3)
    with pytest.raises(EvaluationError, match="diverged"):
        train_and_prune(model, tiny, small_config(lr=1e30, epochs=3))
