"""optuna-dashboard's WSGI app serves a study this test made, with ARSSampler's user attrs."""

from __future__ import annotations

from typing import Any

import optuna_dashboard
import pytest

from tests.studies.wsgi_client import get_json
from tests.studies.wsgi_client import study_detail


@pytest.fixture(scope="module")
def app(stored_study: tuple[str, str]) -> Any:
    return optuna_dashboard.wsgi(stored_study[0])


def test_dashboard_serves_the_study_and_its_trial_attrs(app: Any) -> None:
    detail = study_detail(app, "tiny")
    assert detail["name"] == "tiny"
    assert detail["directions"] == ["minimize", "minimize"]
    trials = detail["trials"]
    assert [t["number"] for t in trials] == list(range(6))
    attrs = [{a["key"]: a["value"] for a in t["user_attrs"]} for t in trials]
    assert all("flash_bytes" in a for a in attrs)
    assert any("ars:policy" in a and "ars:predicted_values" in a for a in attrs)


def test_dashboard_unknown_study_is_404(app: Any) -> None:
    status, _ = get_json(app, "/api/studies/999")
    assert status.startswith("404")
