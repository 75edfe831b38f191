"""The shipped Prometheus config, recording rules and alerts: valid, tested, on real metrics.

promtool comes from the Debian `prometheus` package (scripts/ensure-tools.sh).
"""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest


def load_queries() -> ModuleType:
    if "observability_queries" not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "queries.py"
        spec = importlib.util.spec_from_file_location("observability_queries", path)
        assert spec is not None and spec.loader is not None
        sys.modules[spec.name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules["observability_queries"]


q = load_queries()
PROMETHEUS = q.PROMETHEUS
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))


def promtool(*args: str) -> str:
    """Run promtool in the Prometheus folder; fail (never skip) when it is missing."""
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool not found: run scripts/ensure-tools.sh (installs Prometheus)")
    result = subprocess.run(
        [binary, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"promtool {' '.join(args)}\n{result.stdout}{result.stderr}"
    return result.stdout + result.stderr


def test_prometheus_config_is_valid_and_loads_both_rule_files() -> None:
    output = promtool("check", "config", "prometheus.yml")
    assert "2 rule files found" in output


def test_rule_files_are_valid() -> None:
    promtool("check", "rules", "rules/recording.yml", "rules/alerts.yml")


def test_rule_unit_tests_pass() -> None:
    assert RULE_TESTS, "no promtool tests in observability/prometheus/tests"
    promtool("test", "rules", *(str(path.relative_to(PROMETHEUS)) for path in RULE_TESTS))


def test_scrape_config_covers_the_five_services_and_the_collector() -> None:
    config = q.load_yaml(PROMETHEUS / "prometheus.yml")
    assert config["global"]["scrape_interval"] == "5s"
    targets = {
        job["job_name"]: [t for static in job["static_configs"] for t in static["targets"]]
        for job in config["scrape_configs"]
    }
    expected = {name: [f"127.0.0.1:{8001 + i}"] for i, name in enumerate(q.SERVICES)}
    assert targets == {**expected, "otel-collector": ["127.0.0.1:8889"]}
    rule_files = {(PROMETHEUS / path).resolve() for path in config["rule_files"]}
    assert rule_files == {q.RECORDING_RULES, q.ALERT_RULES}


def rule_tests() -> list[dict]:
    return [test for path in RULE_TESTS for test in q.load_yaml(path)["tests"]]


def test_every_alert_is_tested_both_firing_and_quiet() -> None:
    firing, quiet = set(), set()
    for test in rule_tests():
        for case in test.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    alerts = set(q.alert_rules())
    assert alerts == {"SagaStuck", "DeadLettersWaiting", "ConsumerLagHigh", "HighErrorRate"} | {
        "OutboxLagHigh"
    }
    assert alerts - firing == set(), "alerts never tested firing"
    assert alerts - quiet == set(), "alerts never tested quiet"


def test_every_recording_rule_is_unit_tested() -> None:
    tested = set()
    for test in rule_tests():
        for case in test.get("promql_expr_test", []):
            tested |= q.metric_names(case["expr"])
    assert set(q.recording_rules()) - tested == set()


@pytest.mark.parametrize("name", sorted(q.alert_rules()))
def test_alert_has_severity_summary_description_and_runbook(name: str) -> None:
    rule = q.alert_rules()[name]
    assert rule["labels"]["severity"] in {"warning", "critical"}
    assert {"summary", "description", "runbook_url"} <= set(rule["annotations"])
    assert rule["annotations"]["runbook_url"] == f"docs/observability.md#{name.lower()}"
    assert rule.get("for"), "an alert without `for` fires on a single scrape"


def test_rules_read_only_the_metrics_the_services_expose() -> None:
    known = q.series_names()
    problems = []
    for where, expr in [
        *q.recording_rules().items(),
        *((name, rule["expr"]) for name, rule in q.alert_rules().items()),
    ]:
        for name, labels in q.selectors(expr):
            if name not in known:
                problems.append(f"{where}: unknown metric {name}")
            elif labels - known[name]:
                problems.append(f"{where}: {name} has no label {sorted(labels - known[name])}")
    assert problems == []


def test_the_metric_check_notices_a_wrong_name_or_label() -> None:
    expr = 'sum by (x) (rate(saga_http_requests_total{code="500"}[5m])) / on (x) nope_total'
    assert q.selectors(expr) == [("saga_http_requests_total", {"code"}), ("nope_total", set())]
    assert q.metric_names("histogram_quantile(0.9, sum by (le) (rate(a_bucket[1m]))) > 1e-3") == {
        "a_bucket"
    }


def test_the_metric_contract_matches_sagakit_metrics() -> None:
    from prometheus_client.metrics import MetricWrapperBase

    from sagakit import metrics

    exposed = {
        collector._name: (collector._type, frozenset(collector._labelnames))
        for collector in vars(metrics).values()
        if isinstance(collector, MetricWrapperBase)
    }
    assert exposed == q.METRICS
