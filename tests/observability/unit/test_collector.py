"""The shipped OpenTelemetry Collector config: the pipelines it promises, on valid references."""

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any


def load_queries() -> ModuleType:
    if "observability_queries" not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "queries.py"
        spec = importlib.util.spec_from_file_location("observability_queries", path)
        assert spec is not None and spec.loader is not None
        sys.modules[spec.name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules["observability_queries"]


q = load_queries()
CONFIG_PATH = q.OBSERVABILITY / "otel-collector" / "config.yaml"
CONFIG: dict[str, Any] = q.load_yaml(CONFIG_PATH)
PIPELINES = CONFIG["service"]["pipelines"]


def test_traces_go_to_jaeger_and_to_the_span_metrics_connector() -> None:
    traces = PIPELINES["traces"]
    assert traces["receivers"] == ["otlp"]
    assert traces["processors"] == ["memory_limiter", "batch"]  # the limiter must come first
    assert set(traces["exporters"]) == {"spanmetrics", "otlp/jaeger"}


def test_span_metrics_are_exposed_for_prometheus_with_exemplars() -> None:
    metrics = PIPELINES["metrics"]
    assert metrics["receivers"] == ["spanmetrics"]
    assert metrics["exporters"] == ["prometheus"]
    assert CONFIG["connectors"]["spanmetrics"]["exemplars"]["enabled"] is True
    prometheus = CONFIG["exporters"]["prometheus"]
    assert prometheus["endpoint"].endswith(":8889}")
    assert prometheus["enable_open_metrics"] is True  # the only format with exemplars


def test_endpoints_come_from_the_environment_with_working_defaults() -> None:
    grpc = CONFIG["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    http = CONFIG["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    assert grpc.endswith(":-0.0.0.0:4317}") and http.endswith(":-0.0.0.0:4318}")
    jaeger = CONFIG["exporters"]["otlp/jaeger"]
    assert jaeger["endpoint"] == "${env:JAEGER_ENDPOINT:-jaeger:4317}"
    assert jaeger["tls"]["insecure"] is True
    references = re.findall(r"\$\{[^}]*\}", CONFIG_PATH.read_text())
    assert references
    for reference in references:  # the collector's env provider syntax, with a default
        assert re.fullmatch(r"\$\{env:[A-Z_][A-Z0-9_]*:-[^}]+\}", reference), reference


def test_every_component_is_defined_and_used() -> None:
    defined = {
        kind: set(CONFIG.get(kind) or {})
        for kind in ("receivers", "processors", "exporters", "connectors", "extensions")
    }
    used: dict[str, set[str]] = {kind: set() for kind in defined}
    for pipeline in PIPELINES.values():
        for kind in ("receivers", "processors", "exporters"):
            for name in pipeline.get(kind, []):
                used["connectors" if name in defined["connectors"] else kind].add(name)
    used["extensions"] = set(CONFIG["service"]["extensions"])
    assert used == defined
    assert "health_check" in defined["extensions"]
