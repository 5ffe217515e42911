"""Stage 1b: how a trial's accuracy is validated on small data (plain splits, no training).

A validation split of 8 series (BasicMotions' 20 %) moves in steps of 0.125: the sampler
would optimise luck. With ``folds >= 2`` the training split (``x_train`` + ``x_val`` pooled)
is cut by scikit-learn's ``StratifiedKFold`` (shuffled, seeded); every fold is trained and
validated and the objective is the mean of the fold accuracies. ``folds == 1`` keeps the
single stratified hold-out of :func:`evaluators.data.load_dataset`. The test split is never
part of any fold.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from sklearn.model_selection import StratifiedKFold
import torch

from evaluators.data import Dataset
from evaluators.train import EvaluationError


def pooled(data: Dataset) -> Dataset:
    """``data`` with the validation split merged back into ``x_train`` (``x_val`` empty):
    the whole training split, for cross-validation and for the deliverable's final fit."""
    return replace(
        data,
        x_train=torch.cat([data.x_train, data.x_val]),
        y_train=torch.cat([data.y_train, data.y_val]),
        x_val=data.x_val[:0],
        y_val=data.y_val[:0],
    )


def fold_datasets(data: Dataset, *, folds: int, seed: int) -> list[Dataset]:
    """The ``folds`` stratified folds of ``data``'s whole training split (:func:`pooled`),
    each as a :class:`Dataset` whose ``x_val`` is the held-out fold; ``x_test`` unchanged.
    Raises :class:`EvaluationError` (see :func:`check_splits`) when the data cannot be cut."""
    check_splits(data, folds=folds)
    whole = pooled(data)
    y = whole.y_train.numpy()
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    out = []
    for train_idx, val_idx in splitter.split(np.zeros(len(y)), y):
        tr, va = torch.from_numpy(train_idx), torch.from_numpy(val_idx)
        out.append(
            replace(
                whole,
                x_train=whole.x_train[tr],
                y_train=whole.y_train[tr],
                x_val=whole.x_train[va],
                y_val=whole.y_train[va],
            )
        )
    return out


def check_splits(data: Dataset, *, folds: int) -> None:
    """One-line :class:`EvaluationError` when ``data`` cannot be trained and validated with
    ``folds`` folds (1: the hold-out): an empty test split, fewer than 2 training samples
    per fold (batch norm needs 2), an empty hold-out, or fewer samples than folds."""
    if folds < 1:
        raise ValueError(f"folds={folds!r} (must be >= 1)")
    n_train, n_val, n_test = len(data.y_train), len(data.y_val), len(data.y_test)
    sizes = f"{n_train} training, {n_val} validation, {n_test} test samples"
    if n_test == 0:
        raise EvaluationError(f"dataset {data.name!r}: the test split is empty ({sizes})")
    if folds == 1:
        if n_train < 2 or n_val == 0:
            raise EvaluationError(
                f"dataset {data.name!r}: hold-out validation needs >= 2 training and >= 1 "
                f"validation samples ({sizes})"
            )
        return
    n = n_train + n_val
    if n < folds or smallest_fit(n, folds=folds) < 2:
        raise EvaluationError(
            f"dataset {data.name!r}: {folds}-fold cross-validation needs >= {folds} samples and "
            f">= 2 training samples per fold, the training split has {n} ({sizes})"
        )


def smallest_fit(n: int, *, folds: int) -> int:
    """Training samples of the smallest of ``folds`` cross-validation fits of ``n`` samples
    (the largest fold, ``ceil(n / folds)``, held out)."""
    return n - -(-n // folds)
