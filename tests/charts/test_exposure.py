"""What the chart exposes: an Ingress for the customer routes only, no docs and only its
own host names in production (sagakit.exposure reads DOCS_ENABLED and ALLOWED_HOSTS).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from chartkit import SERVICES, deep_merge, values_of

ROUTES = {
    "booking": "/bookings",
    "payment": "/payments",
    "billing": "/bills",
    "invoice": "/invoices",
}
# Served by every service, reachable inside the cluster only.
INSIDE = ("/healthz", "/readyz", "/metrics", "/docs", "/redoc", "/openapi.json", "/asyncapi")
HOST = "saga.example.com"  # values/production.yaml's placeholder


def config(render: Any, service: str) -> dict[str, str]:
    data: dict[str, str] = render.get("ConfigMap", f"saga-{service}")["data"]
    return data


def test_production_routes_the_customer_paths_and_nothing_inside(
    rendered: dict[str, Any],
) -> None:
    ingress = rendered["production"].get("Ingress", "saga")["spec"]
    (rule,) = ingress["rules"]
    routed = {(path["path"], path["backend"]["service"]["name"]) for path in rule["http"]["paths"]}
    assert rule["host"] == HOST
    assert routed == {(path, f"saga-{service}") for service, path in ROUTES.items()}
    assert {path["pathType"] for path in rule["http"]["paths"]} == {"Prefix"}
    assert {path["backend"]["service"]["port"]["name"] for path in rule["http"]["paths"]} == {
        "http"
    }
    for inside in INSIDE:  # a Prefix path matches itself and what lies below it
        assert not [p for p, _ in routed if inside == p or inside.startswith(p.rstrip("/") + "/")]
    assert ingress["tls"] == [{"hosts": [HOST], "secretName": "saga-tls"}]


def test_no_ingress_unless_asked(rendered: dict[str, Any]) -> None:
    for name in ("default", "kind", "external", "pubsub"):
        assert not rendered[name].of_kind("Ingress"), name


@pytest.mark.parametrize(
    "path", ["/", "/metrics", "/docs", "/openapi.json", "/asyncapi", "/readyz/x"]
)
def test_a_route_to_what_stays_inside_is_refused(render_values: Any, path: str) -> None:
    values = {"ingress": {"enabled": True, "host": HOST, "routes": {"booking": [path]}}}
    with pytest.raises(Exception, match="stays inside the cluster"):
        render_values(values)


def test_an_ingress_needs_a_host(render_values: Any) -> None:
    with pytest.raises(Exception, match=r"set ingress\.host"):
        render_values({"ingress": {"enabled": True}})


def test_class_annotations_and_no_tls_section_without_a_secret(render_values: Any) -> None:
    values = {
        "ingress": {
            "enabled": True,
            "host": HOST,
            "className": "nginx",
            "annotations": {"nginx.ingress.kubernetes.io/limit-rps": "20"},
        }
    }
    ingress = render_values(values).get("Ingress", "saga")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["metadata"]["annotations"] == {"nginx.ingress.kubernetes.io/limit-rps": "20"}
    assert "tls" not in ingress["spec"]


def test_production_shows_no_docs_and_answers_only_its_own_names(
    rendered: dict[str, Any],
) -> None:
    for service in SERVICES:
        data = config(rendered["production"], service)
        assert data["DOCS_ENABLED"] == "false"
        name = f"saga-{service}"
        own = [name, f"{name}.saga", f"{name}.saga.svc", f"{name}.saga.svc.cluster.local"]
        ingress = [HOST] if service in ROUTES else []
        assert data["ALLOWED_HOSTS"].split(",") == [*own, *ingress, "localhost", "127.0.0.1"]


def test_the_defaults_show_the_docs_to_any_host(rendered: dict[str, Any]) -> None:
    for service in SERVICES:
        data = config(rendered["default"], service)
        assert (data["DOCS_ENABLED"], data["ALLOWED_HOSTS"]) == ("true", "*")


def test_the_helm_test_pod_calls_names_the_services_answer(rendered: dict[str, Any]) -> None:
    render = rendered["production"]
    env = {
        v["name"]: v["value"]
        for v in render.get("Pod", "saga-test")["spec"]["containers"][0]["env"]
    }
    for service in ("booking", "payment"):
        host = urlsplit(env[f"SAGA_{service.upper()}_URL"]).hostname
        assert host in config(render, service)["ALLOWED_HOSTS"].split(",")


def test_more_trusted_names_and_another_cluster_domain(render_values: Any) -> None:
    values = deep_merge(
        values_of("production"),
        {"trustedHosts": {"clusterDomain": "corp.internal", "extra": ["*.corp.example"]}},
    )
    hosts = config(render_values(values), "manager")["ALLOWED_HOSTS"].split(",")
    name = "saga-manager"
    own = [name, f"{name}.saga", f"{name}.saga.svc", f"{name}.saga.svc.corp.internal"]
    assert hosts == [*own, "*.corp.example"]
