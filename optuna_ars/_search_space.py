"""Encoding of a mixed search space into the unit cube the GP and the policies work in.

Each numerical parameter takes one coordinate in [0, 1] (log-scaled when the parameter is
log-distributed); a parameter with a step (int, or float with ``step``) is widened by half a
step on each side so that every grid value owns an equal share of [0, 1], and decoding rounds
to the grid. A categorical parameter with k choices takes k one-hot coordinates; decoding takes
the arg-max. Values come and go in Optuna's *internal* representation (floats; a categorical
is its choice index), so this module needs nothing from Optuna itself.

Many unit-cube points decode to one configuration of the grid and categorical parameters:
``snap`` moves a point to the encoding of the configuration it decodes to, which is where the
sampler compares proposals with known points and evaluates their reward; ``neighbours`` and
``sample`` give other configurations to choose from when every proposal decodes to a known one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import itertools
import math

import numpy as np


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: numerical (``low``..``high``, ``log``, ``step``) or categorical."""

    low: float = 0.0
    high: float = 1.0
    log: bool = False
    step: float | None = None
    n_choices: int = 0  # > 0 means categorical

    def __post_init__(self) -> None:
        if self.n_choices < 0:
            raise ValueError(f"n_choices must be >= 0, got {self.n_choices}")
        if self.n_choices == 0 and not self.high >= self.low:
            raise ValueError(f"high must be >= low, got low={self.low}, high={self.high}")
        if self.n_choices == 0 and self.log and self.low <= 0:
            raise ValueError(f"a log parameter needs low > 0, got low={self.low}")

    @property
    def is_categorical(self) -> bool:
        return self.n_choices > 0

    @property
    def is_discrete(self) -> bool:
        """Whether the parameter takes finitely many values (categorical, or on a grid)."""
        return self.is_categorical or self.step is not None

    def values(self) -> list[float]:
        """Every internal value of a discrete parameter, in order."""
        if self.is_categorical:
            return [float(i) for i in range(self.n_choices)]
        if self.step is None:
            raise ValueError("a continuous parameter has no list of values")
        n = math.floor((self.high - self.low) / self.step + 1e-9) + 1
        return [min(self.low + i * self.step, self.high) for i in range(n)]  # as from_unit

    @property
    def width(self) -> int:
        """Number of unit-cube coordinates this parameter occupies."""
        return self.n_choices if self.is_categorical else 1

    def _padded_bounds(self) -> tuple[float, float]:
        half = 0.5 * self.step if self.step is not None else 0.0
        low, high = self.low - half, self.high + half
        if self.log:
            # Half a step below a log-int's low stays positive (low >= 1 for log ints).
            return math.log(max(low, 1e-300)), math.log(high)
        return low, high

    def to_unit(self, value: float) -> float:
        """Map a numerical internal value to [0, 1]."""
        low, high = self._padded_bounds()
        v = math.log(value) if self.log else value
        return 0.5 if high == low else (v - low) / (high - low)

    def from_unit(self, u: float) -> float:
        """Map u in [0, 1] to a valid internal value (a choice index for categoricals)."""
        u = min(max(float(u), 0.0), 1.0)
        if self.is_categorical:
            return float(min(int(u * self.n_choices), self.n_choices - 1))
        low, high = self._padded_bounds()
        v = low + u * (high - low)
        if self.log:
            v = math.exp(v)
        if self.step is not None:
            v = self.low + round((v - self.low) / self.step) * self.step
        return min(max(v, self.low), self.high)


class SearchSpace:
    """The unit-cube encoding of an ordered list of parameters."""

    def __init__(self, specs: Sequence[ParamSpec]) -> None:
        self.specs = list(specs)
        self._offsets = np.cumsum([0] + [s.width for s in self.specs])

    @property
    def dim(self) -> int:
        """Width D of the encoding."""
        return int(self._offsets[-1])

    @property
    def n_configurations(self) -> float:
        """How many configurations the space has (``inf`` with a continuous parameter)."""
        if not all(s.is_discrete for s in self.specs):
            return math.inf
        return float(math.prod(len(s.values()) for s in self.specs))

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Internal values ``(n, P)`` -> unit-cube points ``(n, D)``."""
        values = np.atleast_2d(np.asarray(values, dtype=float))
        out = np.zeros((values.shape[0], self.dim))
        for j, spec in enumerate(self.specs):
            o = self._offsets[j]
            if spec.is_categorical:
                out[np.arange(len(values)), o + values[:, j].astype(int)] = 1.0
            else:
                out[:, o] = [spec.to_unit(v) for v in values[:, j]]
        return out

    def decode(self, x: np.ndarray) -> list[float]:
        """A unit-cube point ``(D,)`` -> valid internal values, one per parameter."""
        x = np.asarray(x, dtype=float)
        out = []
        for j, spec in enumerate(self.specs):
            o = self._offsets[j]
            if spec.is_categorical:
                out.append(float(np.argmax(x[o : o + spec.width])))
            else:
                out.append(spec.from_unit(x[o]))
        return out

    def snap(self, x: np.ndarray) -> np.ndarray:
        """Points ``(..., D)`` moved to the encoding of the configuration they decode to.

        Grid coordinates go to their value's coordinate, a categorical's block to the one-hot
        of its arg-max; continuous coordinates are returned bit for bit (no round trip)."""
        out = np.array(x, dtype=float)  # (..., D), a copy
        for j, spec in enumerate(self.specs):
            o = self._offsets[j]
            if spec.is_categorical:
                block = out[..., o : o + spec.width]  # (..., k)
                out[..., o : o + spec.width] = np.arange(spec.width) == block.argmax(-1)[..., None]
            elif spec.step is not None:
                flat = out[..., o].reshape(-1)
                out[..., o] = np.reshape(
                    [spec.to_unit(spec.from_unit(u)) for u in flat], out.shape[:-1]
                )
        return out

    def neighbours(self, x: np.ndarray) -> np.ndarray:
        """The configurations one discrete move away from each snapped point of ``(k, D)``:
        a grid parameter one step up or down, a categorical any other choice. ``(k', D)``,
        continuous coordinates kept."""
        x = self.snap(np.atleast_2d(x))  # (k, D)
        values = np.array([self.decode(p) for p in x])  # (k, P)
        out = []
        for j, spec in enumerate(self.specs):
            if not spec.is_discrete:
                continue
            o, grid = self._offsets[j], spec.values()
            for p, v in zip(x, values[:, j], strict=True):
                i = min(range(len(grid)), key=lambda i: abs(grid[i] - v))
                moves = range(len(grid)) if spec.is_categorical else (i - 1, i + 1)
                for k in moves:
                    if k != i and 0 <= k < len(grid):
                        q = p.copy()
                        q[o : o + spec.width] = self._encode_one(spec, grid[k])
                        out.append(q)
        return np.array(out).reshape(-1, self.dim)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n', D)`` configurations: all of them when the space has at most ``n``, else
        ``n`` uniform unit-cube points snapped."""
        if self.n_configurations <= n:
            grid = itertools.product(*(s.values() for s in self.specs))
            return self.encode(np.array(list(grid)))
        return self.snap(rng.random((n, self.dim)))

    @staticmethod
    def _encode_one(spec: ParamSpec, value: float) -> np.ndarray:
        """The coordinates ``(width,)`` of one parameter's internal value."""
        if spec.is_categorical:
            return (np.arange(spec.width) == int(value)).astype(float)
        return np.array([spec.to_unit(value)])
