"""`helm lint --strict` has nothing to say about any of the three charts."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from chartkit import CHARTS, SAGA, values_of

INFO = 1  # lint severities: 1 info, 2 warning, 3 error


def problems(report: dict[str, Any]) -> list[str]:
    found = [f"{m['path']}: {m['error']}" for m in report["messages"] if m["severity"] > INFO]
    return found + list(report.get("errors") or [])


@pytest.mark.parametrize("chart", ["postgres", "redis"])
def test_subchart_lints_clean(helm: ModuleType, chart: str) -> None:
    report = helm.lint(CHARTS / chart, strict=True, namespace="saga")
    assert report["total_charts_linted"] == 1
    assert problems(report) == []


def test_saga_lints_clean_with_each_values_file(
    helm: ModuleType, chart_dir: Path, values_name: str
) -> None:
    report = helm.lint(chart_dir, values_of(values_name), strict=True, namespace="saga")
    assert report["total_charts_linted"] == 1
    assert problems(report) == []


@pytest.mark.parametrize("chart", ["postgres", "redis"])
def test_subchart_lints_clean_with_the_values_saga_gives_it(helm: ModuleType, chart: str) -> None:
    given = yaml.safe_load((SAGA / "values.yaml").read_text())[chart]
    report = helm.lint(CHARTS / chart, given, strict=True, namespace="saga")
    assert problems(report) == []
