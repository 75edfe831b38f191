"""The shipped observability files as data: the metric contract and every PromQL query in them.

Shared by the static checks (tests/observability/unit) and the live check against a
real Prometheus (tests/e2e/test_prometheus.py), which loads this file by path.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
OBSERVABILITY = ROOT / "observability"
PROMETHEUS = OBSERVABILITY / "prometheus"
RECORDING_RULES = PROMETHEUS / "rules" / "recording.yml"
ALERT_RULES = PROMETHEUS / "rules" / "alerts.yml"
DASHBOARDS = sorted((OBSERVABILITY / "grafana" / "dashboards").glob("*.json"))
SERVICES = ("booking", "manager", "billing", "payment", "invoice")

# What the services expose at /metrics (sagakit.metrics): name -> (type, labels).
METRICS: dict[str, tuple[str, frozenset[str]]] = {
    name: (kind, frozenset(labels.split()))
    for name, kind, labels in (
        ("saga_http_requests", "counter", "service method route status"),
        ("saga_http_request_duration_seconds", "histogram", "service method route"),
        ("saga_events_published", "counter", "service event_type"),
        ("saga_events_consumed", "counter", "service event_type outcome"),
        ("saga_handler_duration_seconds", "histogram", "service event_type"),
        ("saga_outbox_backlog_events", "gauge", "service"),
        ("saga_outbox_lag_seconds", "gauge", "service"),
        ("saga_consumer_pending_messages", "gauge", "service stream"),
        ("saga_consumer_lag_messages", "gauge", "service stream"),
        ("saga_dead_letters_messages", "gauge", "service"),
        ("saga_long_poll_waiters", "gauge", "service"),
        ("saga_retention_deleted_rows", "counter", "service table"),
        ("saga_deadlines_fired", "counter", "service deadline"),
        ("saga_reconciled_sagas", "counter", "service trigger"),
        ("saga_reconcile_requests", "counter", "service outcome"),
        ("saga_events_republished", "counter", "service"),
        ("booking_saga_outcomes", "counter", "service outcome"),
        ("booking_saga_duration_seconds", "histogram", "service outcome"),
        ("booking_saga_step_duration_seconds", "histogram", "service step"),
        ("booking_sagas_running", "gauge", "service status"),
        ("booking_oldest_running_saga_age_seconds", "gauge", "service"),
    )
}

# Words of PromQL that look like metric names but are not.
KEYWORDS = {"and", "or", "unless", "bool", "by", "without", "on", "ignoring", "offset"}
KEYWORDS |= {"group_left", "group_right", "inf", "nan"}

# The values Grafana gives its variables when the live test runs the dashboards' queries.
LIVE_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "5m",
    "$service": ".*",
}


def series_names() -> dict[str, frozenset[str]]:
    """Every series name a scrape can return, with its label names."""
    names: dict[str, frozenset[str]] = {}
    for name, (kind, labels) in METRICS.items():
        if kind == "counter":
            names[f"{name}_total"] = labels
        elif kind == "histogram":
            names[f"{name}_bucket"] = labels | {"le"}
            names[f"{name}_sum"] = labels
            names[f"{name}_count"] = labels
        else:
            names[name] = labels
    return names


@dataclass(frozen=True)
class Query:
    """One PromQL expression and where it was found."""

    where: str
    expr: str
    exemplar: bool = False

    def live(self) -> str:
        """The expression with Grafana's variables replaced by values Prometheus accepts."""
        expr = self.expr
        for variable, value in LIVE_VARIABLES.items():
            expr = expr.replace(variable, value)
        return expr


def selectors(expr: str) -> list[tuple[str, set[str]]]:
    """The vector selectors of an expression: metric name and the labels it matches on."""
    text = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`', '""', expr)
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges, subqueries and their variables
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    found = []
    pattern = r"(?<![\w:.$])([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?(\s*\()?"
    for name, matchers, call in re.findall(pattern, text):
        if call or name.lower() in KEYWORDS:
            continue
        found.append((name, set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers))))
    return found


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads."""
    return {name for name, _ in selectors(expr)}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def rules(path: Path) -> list[dict[str, Any]]:
    """Every rule of a rule file, groups flattened."""
    return [rule for group in load_yaml(path)["groups"] for rule in group["rules"]]


def recording_rules() -> dict[str, str]:
    """Recorded name -> expression."""
    return {rule["record"]: rule["expr"] for rule in rules(RECORDING_RULES)}


def alert_rules() -> dict[str, dict[str, Any]]:
    """Alert name -> rule."""
    return {rule["alert"]: rule for rule in rules(ALERT_RULES)}


def load_dashboard(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, those inside collapsed rows included."""
    found = []
    for panel in dashboard.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def dashboard_queries(path: Path) -> list[Query]:
    """Every PromQL expression of a dashboard: panel targets and query variables."""
    dashboard = load_dashboard(path)
    queries = []
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            if "expr" in target:
                where = f"{path.name}: {panel['title']} [{target['refId']}]"
                queries.append(Query(where, target["expr"], bool(target.get("exemplar"))))
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            queries.append(Query(f"{path.name}: ${variable['name']}", variable_query(variable)))
    return queries


def variable_query(variable: dict[str, Any]) -> str:
    """A query variable as PromQL: label_values(m, l) becomes `group by (l) (m)`."""
    query = variable["query"]
    text = query["query"] if isinstance(query, dict) else query
    match = re.fullmatch(r"\s*label_values\(\s*(.+?)\s*,\s*(\w+)\s*\)\s*", text)
    return f"group by ({match[2]}) ({match[1]})" if match else text
