"""The chart's copies of the dashboards and rules are the observability/ files, byte for byte.

Helm cannot read files outside a chart, so charts/saga keeps copies; these tests fail
when one side changes without the other (`cp` the changed file across).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from chartkit import ROOT, SAGA

DASHBOARDS = ROOT / "observability" / "grafana" / "dashboards"
RULES = ROOT / "observability" / "prometheus" / "rules"


def names(folder: Path, pattern: str) -> list[str]:
    return sorted(path.name for path in folder.glob(pattern))


def test_the_chart_ships_every_dashboard_and_rule_file() -> None:
    assert names(SAGA / "dashboards", "*.json") == names(DASHBOARDS, "*.json") != []
    assert names(SAGA / "rules", "*.yml") == names(RULES, "*.yml") != []


@pytest.mark.parametrize("name", names(DASHBOARDS, "*.json"))
def test_dashboard_copy_is_identical(name: str) -> None:
    copy, original = SAGA / "dashboards" / name, DASHBOARDS / name
    assert copy.read_bytes() == original.read_bytes(), f"cp {original} {copy}"


@pytest.mark.parametrize("name", names(RULES, "*.yml"))
def test_rules_copy_is_identical(name: str) -> None:
    copy, original = SAGA / "rules" / name, RULES / name
    assert copy.read_bytes() == original.read_bytes(), f"cp {original} {copy}"


def test_dashboard_config_maps_carry_the_files_unchanged(rendered: dict[str, Any]) -> None:
    maps = [
        m
        for m in rendered["default"].of_kind("ConfigMap")
        if "grafana_dashboard" in m["metadata"]["labels"]
    ]
    assert len(maps) == len(names(DASHBOARDS, "*.json"))
    for config_map in maps:
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert config_map["metadata"]["annotations"]["grafana_folder"] == "Saga"
        ((name, text),) = config_map["data"].items()
        assert text == (DASHBOARDS / name).read_text()
        assert json.loads(text)["uid"]


def test_prometheus_rule_holds_every_group_of_the_rule_files(rendered: dict[str, Any]) -> None:
    rule = rendered["production"].get("PrometheusRule", "saga")
    expected = [
        group
        for name in ("recording.yml", "alerts.yml")
        for group in yaml.safe_load((RULES / name).read_text())["groups"]
    ]
    assert rule["spec"]["groups"] == expected
    # Prometheus' own templates reach it untouched (Helm did not evaluate them).
    assert "{{ $value | humanizeDuration }}" in json.dumps(rule)


def test_monitoring_objects_are_off_by_default(rendered: dict[str, Any]) -> None:
    for kind in ("ServiceMonitor", "PrometheusRule"):
        assert not rendered["default"].of_kind(kind)
        assert len(rendered["production"].of_kind(kind)) == 1
