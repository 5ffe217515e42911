"""Cross-validated accuracy objective (evaluators.validation) and its deliverable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from evaluators import evaluate
from evaluators import make_objective
from evaluators.data import Dataset
from evaluators.objective import PAPER_WEIGHT_DECAY
from evaluators.objective import SearchSpace
from evaluators.train import EvaluationError
from evaluators.validation import check_splits
from evaluators.validation import fold_datasets
from evaluators.validation import pooled
from tests.evaluators.conftest import small_config


def test_folds_are_stratified_disjoint_and_cover_the_training_split(tiny: Dataset) -> None:
    whole = pooled(tiny)
    assert len(whole.y_train) == 18 and len(whole.y_val) == 0
    folds = fold_datasets(tiny, folds=3, seed=0)
    held_out = torch.cat([f.x_val for f in folds])
    assert len(held_out) == 18  # every training sample is held out exactly once
    assert torch.allclose(held_out.sum(0), whole.x_train.sum(0), atol=1e-5)
    for f in folds:
        assert np.bincount(f.y_val.numpy()).tolist() == [2, 2, 2]  # stratified
        assert len(f.y_train) == 12 and torch.equal(f.x_test, tiny.x_test)  # test untouched
    again = fold_datasets(tiny, folds=3, seed=0)
    assert all(torch.equal(a.y_val, b.y_val) for a, b in zip(folds, again, strict=True))


def test_splits_that_cannot_be_validated_name_their_sizes(tiny: Dataset) -> None:
    one = Dataset(**{**vars(tiny), "x_train": tiny.x_train[:1], "y_train": tiny.y_train[:1]})
    one = Dataset(**{**vars(one), "x_val": tiny.x_val[:0], "y_val": tiny.y_val[:0]})
    with pytest.raises(
        EvaluationError, match=r"3-fold cross-validation needs >= 3 samples.*has 1"
    ):
        check_splits(one, folds=3)
    with pytest.raises(EvaluationError, match="hold-out validation needs"):
        check_splits(one, folds=1)
    no_test = Dataset(**{**vars(tiny), "x_test": tiny.x_test[:0], "y_test": tiny.y_test[:0]})
    with pytest.raises(EvaluationError, match="the test split is empty"):
        check_splits(no_test, folds=3)
    check_splits(tiny, folds=3)  # 18 samples: fine
    with pytest.raises(ValueError, match="folds=0"):
        check_splits(tiny, folds=0)


def test_cross_validated_evaluation_exports_the_network_fitted_on_all_of_it(
    tiny: Dataset, tmp_path: Path
) -> None:
    result = evaluate(tiny, "uea", small_config(), workdir=tmp_path, folds=3)
    assert result.cv is not None and len(result.cv.val_accuracies_int8) == 3
    assert result.values[0] == pytest.approx(1.0 - np.mean(result.cv.val_accuracies_int8))
    assert result.train.sgd_steps == 2 * 5  # 2 epochs over all 18 samples at batch 4
    assert result.onnx_path.parent == tmp_path  # the deliverable, not a fold's model
    session = ort.InferenceSession(str(result.onnx_path), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"input": tiny.x_test.numpy()})
    test = float(np.mean(np.argmax(logits, 1) == tiny.y_test.numpy()))
    assert result.quantized.test_accuracy == pytest.approx(test)
    assert "cv" in result.seconds


def test_min_steps_raise_the_epochs_of_a_small_training_split(basicmotions: Dataset) -> None:
    objective = make_objective(dataset=basicmotions, folds=3, min_steps=100)
    assert objective.fit_size == 26  # 40 training series, 14 held out by the largest fold
    # 100 Table 2 epochs x 0.1 = 10 epochs of 2 steps at batch 20: raised to 50
    assert objective.scaled_epochs(100, batch_size=20) == 50
    assert objective.scaled_epochs(500, batch_size=20) == 50  # already 100 steps
    assert make_objective(dataset=basicmotions, quick=True).folds == 2
    with pytest.raises(ValueError, match=r"folds=0.*min_steps=-1"):
        make_objective(dataset=basicmotions, folds=0, min_steps=-1)


def test_weight_decay_range_trains_by_default_and_the_paper_one_is_an_option() -> None:
    assert SearchSpace().weight_decay == (1e-5, 1e-2)
    assert SearchSpace(weight_decay=PAPER_WEIGHT_DECAY).weight_decay == (0.6, 0.99)
