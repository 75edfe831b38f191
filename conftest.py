"""Marks every test by the folder it lives in: unit, integration or e2e.

A test in none of those folders (the chart renders in tests/charts) needs no server and
counts as a unit test.
"""

from pathlib import Path

import pytest

TIERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.path)).parts
        tier = next((tier for tier in TIERS if tier in parts), "unit")
        item.add_marker(getattr(pytest.mark, tier))
