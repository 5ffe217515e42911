"""Stage 1: datasets as tensors with train / validation / test splits (paper Sec. 4).

Sources, none downloaded:

* the UEA/UCR classification sets aeon bundles (``basicmotions``, ``gunpoint``, ...);
* any other UEA/UCR set from ``<Name>_TRAIN.ts`` / ``<Name>_TEST.ts`` files under ``root``;
* CIFAR-10 from its python batches (``data_batch_1`` ... ``data_batch_5``, ``test_batch``);
* DaLiAc windows of 1024 samples from the per-subject CSV files (``dataset="daliac"``).

Time series become ``[N, C, 1, L]`` (for ``(1, k)`` convolutions), images ``[N, 3, 32, 32]``.
Inputs are standardised per channel with training-set statistics (``mean``/``std`` are kept:
the deployed model expects standardised input). The validation split is carved from the
training data (stratified); the test split is separate and only reported, never optimised.
"""

from __future__ import annotations

from dataclasses import dataclass
import os
from pathlib import Path
import pickle
from typing import Any

import numpy as np
import torch

# Classification sets shipped inside aeon (``aeon/datasets/data``): lower-case key -> folder.
BUNDLED = {
    name.lower(): name
    for name in (
        "ACSF1",
        "ArrowHead",
        "BasicMotions",
        "GunPoint",
        "ItalyPowerDemand",
        "JapaneseVowels",
        "OSULeaf",
        "PickupGestureWiimoteZ",
        "UnitTest",
    )
}
DALIAC_WINDOW = 1024
_CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR_TEST = "test_batch"
_QUICK_TRAIN = 512  # --quick: at most this many training samples (before the val split)
_QUICK_TEST = 256


@dataclass(frozen=True, kw_only=True)
class Dataset:
    """Standardised splits; ``x_*`` are float32 ``[N, C, H, W]``, ``y_*`` int64 ``[N]``."""

    name: str
    kind: str  # "timeseries" or "image"
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: tuple[str, ...]
    mean: tuple[float, ...]  # per input channel, subtracted before the model
    std: tuple[float, ...]

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        c, h, w = self.x_train.shape[1:]
        return int(c), int(h), int(w)

    @property
    def default_model(self) -> str:
        """The paper's network for this kind of data (Sec. 4)."""
        if self.kind == "image":
            return "resnet"
        return "mobilenet" if self.name == "daliac" else "uea"


def load_dataset(
    name: str,
    *,
    root: str | os.PathLike[str] | None = None,
    quick: bool = False,
    seed: int = 0,
    val_fraction: float = 0.2,
) -> Dataset:
    """Load ``name`` (case-insensitive) with train/val/test splits.

    ``root`` is the folder holding the files for CIFAR-10, DaLiAc and UEA/UCR sets that aeon
    does not bundle. ``quick`` keeps at most 512 training and 256 test samples (smoke runs).
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    key = name.lower()
    kind = "timeseries"
    if key in ("cifar10", "cifar-10"):
        key, kind = "cifar10", "image"
        x_tr, y_tr, x_te, y_te = _read_cifar10(_require_root(name, root))
    elif key == "daliac":
        x_all, y_all = _read_daliac(_require_root(name, root), window=DALIAC_WINDOW)
        test_idx = _stratified_indices(y_all, fraction=0.2, seed=seed)
        mask = np.zeros(len(y_all), dtype=bool)
        mask[test_idx] = True
        x_tr, y_tr, x_te, y_te = x_all[~mask], y_all[~mask], x_all[mask], y_all[mask]
    else:
        x_tr, y_tr, x_te, y_te = _read_ts_pair(name, root)
    if quick:
        x_tr, y_tr = _subsample(x_tr, y_tr, _QUICK_TRAIN, seed)
        x_te, y_te = _subsample(x_te, y_te, _QUICK_TEST, seed)
    classes = tuple(sorted({str(c) for c in np.concatenate([y_tr, y_te])}, key=_natural))
    index = {c: i for i, c in enumerate(classes)}
    y_tr_i = np.array([index[str(c)] for c in y_tr], dtype=np.int64)
    y_te_i = np.array([index[str(c)] for c in y_te], dtype=np.int64)
    val_idx = _stratified_indices(y_tr_i, fraction=val_fraction, seed=seed)
    if len(val_idx) == 0 or len(val_idx) == len(y_tr_i):
        raise ValueError(f"dataset {name!r}: too few training samples ({len(y_tr_i)}) to split")
    is_val = np.zeros(len(y_tr_i), dtype=bool)
    is_val[val_idx] = True
    # Per-channel statistics over the training part only: x is [N, C, H, W].
    # Padding and missing values are NaN here and become 0 (the mean) after standardising.
    mean = np.nanmean(x_tr[~is_val], axis=(0, 2, 3))
    std = np.nanstd(x_tr[~is_val], axis=(0, 2, 3)) + 1e-8

    def norm(x: np.ndarray) -> torch.Tensor:
        z = (x - mean[None, :, None, None]) / std[None, :, None, None]
        return torch.from_numpy(np.nan_to_num(z).astype(np.float32))

    return Dataset(
        name=key,
        kind=kind,
        x_train=norm(x_tr[~is_val]),
        y_train=torch.from_numpy(y_tr_i[~is_val]),
        x_val=norm(x_tr[is_val]),
        y_val=torch.from_numpy(y_tr_i[is_val]),
        x_test=norm(x_te),
        y_test=torch.from_numpy(y_te_i),
        classes=classes,
        mean=tuple(float(v) for v in mean),
        std=tuple(float(v) for v in std),
    )


def _natural(label: str) -> tuple[int, Any]:
    """Numeric labels in numeric order, then text labels alphabetically."""
    try:
        return (0, float(label))
    except ValueError:
        return (1, label)


def _require_root(name: str, root: str | os.PathLike[str] | None) -> Path:
    if root is None:
        raise ValueError(
            f"dataset {name!r} needs root=<folder with its files> (command line: "
            "--root FOLDER); none given"
        )
    path = Path(root)
    if not path.is_dir():
        raise FileNotFoundError(f"dataset {name!r}: root {str(path)!r} is not a directory")
    return path


def _subsample(
    x: np.ndarray, y: np.ndarray, limit: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    if len(y) <= limit:
        return x, y
    keep = np.sort(np.random.default_rng(seed).permutation(len(y))[:limit])
    return x[keep], y[keep]


def _stratified_indices(y: np.ndarray, *, fraction: float, seed: int) -> np.ndarray:
    """Indices of a stratified ``fraction`` of ``y``; a class with >= 2 samples gives >= 1."""
    rng = np.random.default_rng(seed)
    picked: list[np.ndarray] = []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        n = round(fraction * len(members))
        if len(members) >= 2:
            n = min(max(n, 1), len(members) - 1)
        picked.append(members[:n])
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)


def _read_ts_pair(
    name: str, root: str | os.PathLike[str] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """UEA/UCR ``.ts`` train and test files as padded ``[N, C, 1, L]`` arrays."""
    if root is None:
        if name.lower() not in BUNDLED:
            raise ValueError(
                f"dataset {name!r} is not bundled with aeon (bundled: {sorted(BUNDLED)}); "
                "pass root=<folder with its <Name>_TRAIN.ts and <Name>_TEST.ts> (command line: "
                "--root FOLDER)"
            )
        import aeon.datasets

        folder = Path(aeon.datasets.__file__).parent / "data" / BUNDLED[name.lower()]
        stem = BUNDLED[name.lower()]
    else:
        folder = _require_root(name, root)
        if (folder / name).is_dir():
            folder = folder / name
        stem = name
    paths = [folder / f"{stem}_{split}.ts" for split in ("TRAIN", "TEST")]
    series = [_read_ts(path) for path in paths]
    length = max(max(x.shape[-1] for x in xs) for xs, _ in series)
    channels = {x.shape[0] for xs, _ in series for x in xs}
    if len(channels) != 1:
        raise ValueError(f"{paths}: series have differing channel counts {sorted(channels)}")
    (x_tr, y_tr), (x_te, y_te) = ((_pad(xs, length), y) for xs, y in series)
    return x_tr, y_tr, x_te, y_te


def _read_ts(path: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """One ``.ts`` file via aeon: a list of ``[C, L_i]`` series and their labels."""
    from aeon.datasets import load_from_ts_file

    if not path.is_file():
        raise FileNotFoundError(f"{str(path)!r}: expected a UEA/UCR .ts file, none found")
    try:
        x, y = load_from_ts_file(str(path))
    except Exception as exc:  # aeon raises IOError/ValueError/IndexError on bad content
        raise ValueError(f"{str(path)!r} is not a valid labelled .ts file: {exc}") from exc
    if y is None or len(y) == 0 or len(y) != len(x):
        raise ValueError(f"{str(path)!r}: expected labelled series (@classLabel true)")
    series = [np.asarray(s, dtype=np.float64) for s in x]
    if any(s.ndim != 2 or s.size == 0 for s in series):
        raise ValueError(
            f"{str(path)!r}: expected numeric series (comma-separated values, ':' between "
            "channels, the label last) after @data"
        )
    return series, np.asarray(y)


def _pad(series: list[np.ndarray], length: int) -> np.ndarray:
    """NaN-pad variable-length ``[C, L_i]`` series at the end -> ``[N, C, 1, length]``."""
    out = np.full((len(series), series[0].shape[0], 1, length), np.nan, dtype=np.float64)
    for i, s in enumerate(series):
        out[i, :, 0, : s.shape[-1]] = s
    return out


def _read_cifar10(root: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CIFAR-10 python batches (``cifar-10-batches-py``) as ``[N, 3, 32, 32]`` in [0, 1]."""
    if (root / "cifar-10-batches-py").is_dir():
        root = root / "cifar-10-batches-py"
    train = [_read_cifar_batch(root / name) for name in _CIFAR_TRAIN]
    x_te, y_te = _read_cifar_batch(root / _CIFAR_TEST)
    x_tr = np.concatenate([x for x, _ in train])
    y_tr = np.concatenate([y for _, y in train])
    return x_tr, y_tr, x_te, y_te


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    expected = "a CIFAR-10 python batch (pickled dict with b'data' [N, 3072] uint8, b'labels')"
    if not path.is_file():
        raise FileNotFoundError(f"{str(path)!r}: expected {expected}, file missing")
    try:
        with path.open("rb") as f:
            batch = pickle.load(f, encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except Exception as exc:  # unpickling errors, missing keys, wrong types
        raise ValueError(f"{str(path)!r}: expected {expected}: {exc!r}") from exc
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise ValueError(f"{str(path)!r}: expected {expected}, got data {data.shape}")
    return data.reshape(-1, 3, 32, 32).astype(np.float64) / 255.0, labels


def _read_daliac(root: Path, *, window: int) -> tuple[np.ndarray, np.ndarray]:
    """DaLiAc per-subject CSVs (sensor columns, then the activity label as last column) as
    non-overlapping windows ``[N, C, 1, window]`` that do not cross an activity change."""
    files = sorted(root.glob("*.csv"))
    if not files:
        raise FileNotFoundError(
            f"{str(root)!r}: expected DaLiAc CSV files (one per subject, columns = sensor "
            "channels then the activity label), found no *.csv"
        )
    xs: list[np.ndarray] = []
    ys: list[int] = []
    for path in files:
        try:
            table = np.loadtxt(path, delimiter=",", ndmin=2)
        except ValueError as exc:
            raise ValueError(f"{str(path)!r}: expected numeric DaLiAc CSV rows: {exc}") from exc
        if table.shape[1] < 2:
            raise ValueError(f"{str(path)!r}: expected sensor columns and a label column")
        signal, labels = table[:, :-1], table[:, -1].astype(np.int64)
        change = np.flatnonzero(np.diff(labels)) + 1
        for start, stop in zip(
            np.concatenate([[0], change]), np.concatenate([change, [len(labels)]]), strict=True
        ):
            for begin in range(start, stop - window + 1, window):
                xs.append(signal[begin : begin + window].T[:, None, :])  # [C, 1, window]
                ys.append(int(labels[begin]))
    if not xs:
        raise ValueError(f"{str(root)!r}: no activity segment is {window} samples long")
    channels = {x.shape[0] for x in xs}
    if len(channels) != 1:
        raise ValueError(f"{str(root)!r}: CSV files have differing column counts")
    return np.stack(xs), np.array(ys)
