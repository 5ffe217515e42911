"""A GET request to a WSGI app without a server (the standard library's wsgiref)."""

from __future__ import annotations

import io
import json
from typing import Any
from wsgiref.util import setup_testing_defaults


def get_json(app: Any, path: str) -> tuple[str, Any]:
    """``(status line, decoded JSON body)`` of ``GET path``."""
    environ: dict[str, Any] = {"PATH_INFO": path, "REQUEST_METHOD": "GET"}
    setup_testing_defaults(environ)
    environ["wsgi.input"] = io.BytesIO(b"")
    status: list[str] = []
    body = b"".join(app(environ, lambda s, headers, exc_info=None: status.append(s)))
    return status[0], json.loads(body)


def study_detail(app: Any, name: str) -> Any:
    """The dashboard's JSON for the study called ``name``."""
    status, studies = get_json(app, "/api/studies")
    assert status.startswith("200"), status
    (summary,) = [s for s in studies["study_summaries"] if s["study_name"] == name]
    status, detail = get_json(app, f"/api/studies/{summary['study_id']}")
    assert status.startswith("200"), status
    return detail
