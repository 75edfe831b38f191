"""What the values do: the schema refuses mistakes, the switches switch, the merge is right."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from chartkit import EXTERNAL_URLS, SERVICES, values_of


def test_external_values_start_no_postgres_and_no_redis(rendered: dict[str, Any]) -> None:
    render = rendered["external"]
    assert not render.of_kind("StatefulSet")
    names = {obj["metadata"]["labels"].get("app.kubernetes.io/name") for obj in render.objects}
    assert not names & {"postgres", "redis"}
    assert {where for where, _, _ in render.pod_specs()} == {
        *(f"Deployment/saga-{name}" for name in SERVICES),
        "Pod/saga-test",
    }


def test_external_urls_go_into_the_charts_secret(render_values: Any) -> None:
    render = render_values(EXTERNAL_URLS)
    secret = render.get("Secret", "saga-credentials")
    assert sorted(secret["data"]) == sorted(
        [*(f"{name}-database-url" for name in SERVICES), "redis-url"]
    )
    assert not render.of_kind("StatefulSet")


def test_values_files_pass_the_schema(helm: ModuleType, chart_dir: Path, values_name: str) -> None:
    with helm.Chart.load(chart_dir) as chart:
        chart.validate_schema(values_of(values_name))


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"replicaCount": 2}, "replicaCount"),
        ({"config": {"EVENT_TRANSPORTS": "pubsub"}}, "EVENT_TRANSPORTS"),
        ({"config": {"EVENT_TRANSPORT": "kafka"}}, "EVENT_TRANSPORT"),
        ({"services": {"booking": {"config": {"AUTO_APPROVE": False}}}}, "AUTO_APPROVE"),
        ({"services": {"shipping": {}}}, "shipping"),
        ({"defaults": {"resources": {"request": {"cpu": 1}}}}, "request"),
        ({"auth": {"redisPassword": "p@ss"}}, "redisPassword"),
        ({"global": {"image": {"pullPolicy": "Sometimes"}}}, "pullPolicy"),
        ({"networkPolicy": {"httpClients": [{"podselector": {}}]}}, "podselector"),
        ({"postgres": {"persistance": {}}}, "persistance"),
        ({"redis": {"auth": {"pasword": "x"}}}, "pasword"),
    ],
)
def test_schema_refuses_mistakes(
    render_values: Any, values: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ValueError, match="schema") as error:
        render_values(values)
    assert complaint in str(error.value)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"externalDatabase": {"existingSecret": "db"}}, "set postgres.enabled=false"),
        ({"externalRedis": {"url": "redis://r:6379/0"}}, "set redis.enabled=false"),
        ({"postgres": {"enabled": False}}, "set externalDatabase.urls.billing"),
        ({"redis": {"enabled": False}}, "set externalRedis.url or externalRedis.existingSecret"),
    ],
)
def test_contradictory_servers_fail_with_what_to_set(
    render_values: Any, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(Exception, match=message):
        render_values(values)


def test_a_service_overrides_defaults_even_with_false(render_values: Any) -> None:
    render = render_values(
        {
            "defaults": {"replicas": 2},
            "services": {"booking": {"replicas": 3, "migrate": {"enabled": False}}},
        }
    )
    booking = render.deployment("booking")["spec"]
    assert booking["replicas"] == 3
    assert "initContainers" not in booking["template"]["spec"]
    payment = render.deployment("payment")["spec"]
    assert payment["replicas"] == 2
    assert payment["template"]["spec"]["initContainers"][0]["name"] == "migrate"


def test_a_service_resource_override_keeps_the_other_defaults(render_values: Any) -> None:
    render = render_values({"services": {"invoice": {"resources": {"limits": {"memory": "1Gi"}}}}})
    resources = render.container("invoice")["resources"]
    assert resources["limits"] == {"memory": "1Gi"}
    assert resources["requests"] == {"cpu": "50m", "memory": "160Mi"}


def test_a_disabled_service_renders_nothing(render_values: Any) -> None:
    render = render_values({"services": {"invoice": {"enabled": False}}})
    names = [obj["metadata"]["name"] for obj in render.objects]
    assert not [name for name in names if "invoice" in name]
    assert len(render.of_kind("Deployment")) == 4


def test_another_release_name_keeps_every_reference_consistent(render_values: Any) -> None:
    render = render_values({}, release="shop")
    assert render.get("Deployment", "shop-saga-booking")
    secret = render.get("Secret", "shop-credentials")
    postgres = render.get("StatefulSet", "shop-postgres")["spec"]["template"]["spec"]
    refs = {
        var["valueFrom"]["secretKeyRef"]["name"]
        for var in postgres["containers"][0]["env"]
        if var["name"].startswith("DATABASE_PASSWORD_")
    }
    assert refs == {secret["metadata"]["name"]}
    assert render.get("StatefulSet", "shop-redis")


def test_production_scales_and_protects_every_service(rendered: dict[str, Any]) -> None:
    render = rendered["production"]
    assert len(render.of_kind("HorizontalPodAutoscaler")) == len(SERVICES)
    assert len(render.of_kind("PodDisruptionBudget")) == len(SERVICES)
    for autoscaler in render.of_kind("HorizontalPodAutoscaler"):
        assert autoscaler["spec"]["minReplicas"] == 2
    assert not rendered["default"].of_kind("HorizontalPodAutoscaler")
    assert all(d["spec"]["replicas"] == 1 for d in rendered["default"].of_kind("Deployment"))


def test_notes_tell_how_to_reach_each_service(rendered: dict[str, Any]) -> None:
    notes = rendered["default"].notes
    for port, service in enumerate(SERVICES, start=8001):
        assert f"kubectl -n saga port-forward svc/saga-{service} {port}:80 &" in notes
        assert f"SAGA_{service.upper()}_URL=http://127.0.0.1:{port}" in notes
    assert "helm test saga -n saga --logs" in notes
