"""Seeds and the Latin-hypercube start-up design (Algorithm 1, "Create initial prior")."""

from __future__ import annotations

import zlib

import numpy as np


def derive_seed(*parts: int | str) -> int:
    """A stable 32-bit seed from parts, the same in every process (unlike ``hash``)."""
    words = [zlib.crc32(p.encode()) if isinstance(p, str) else p & 0xFFFFFFFF for p in parts]
    return int(np.random.SeedSequence(words).generate_state(1)[0])


def lhs_unit_value(*, seed: int, param: str, trial_number: int, n_rows: int) -> float:
    """The ``trial_number``-th row of a Latin hypercube column for one parameter, in [0, 1).

    A d-dimensional Latin hypercube is d independently permuted stratified columns, so a
    column per parameter (seeded by the parameter's name) builds the same kind of design for
    any search space, even one that grows while trials run. Trials ``k*n_rows ..
    (k+1)*n_rows - 1`` form design ``k``; parallel workers, which hold distinct trial numbers,
    draw distinct rows of one design.
    """
    from scipy.stats import qmc

    block, row = divmod(trial_number, n_rows)
    rng = np.random.default_rng(derive_seed(seed, param, block))
    return float(qmc.LatinHypercube(d=1, rng=rng).random(n_rows)[row, 0])
