"""Fixtures shared with the evaluator tests."""

from __future__ import annotations

from tests.evaluators.conftest import tiny

__all__ = ["tiny"]
