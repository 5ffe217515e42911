from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Until pyproject.toml lists it (its [tool.pytest.ini_options] markers).
    config.addinivalue_line(
        "markers",
        "postgres: needs a PostgreSQL server; runs when OPTUNA_ARS_TEST_PG_URL is set",
    )
