"""Every client of the chart's own Postgres, at its worst, fits in max_connections.

Counted from the render, for each values file that runs the chart's own Postgres:

  services    max pods (HPA maxReplicas, else replicas; + maxSurge during a rollout)
              x (DB_POOL_SIZE + DB_MAX_OVERFLOW); an init container's migration closes
              its connection before the server opens its pool, so the pod's share covers it
  migrations  one connection per hook Job pod that may run at once (migrate uses no pool)
  test pod    none: it only calls the services over HTTP
  reserved    superuser_reserved_connections

and the memory request holds shared_buffers plus every connection's backend process.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from chartkit import SERVICES, own_servers, quantity_bytes, values_of

# Memory of one backend process: an idle one measured 1.5 MiB private (2.2 MiB with its
# share of the libraries) after the services' queries on Postgres 15; 3 MiB leaves room
# for the catalog caches of real work.
BACKEND_BYTES = 3 * 2**20
POSTGRES_UNITS = {"kB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40}


def server_settings(render: Any) -> dict[str, str]:
    """The `-c name=value` options of the postgres container (the last of a name wins)."""
    (container,) = render.get("StatefulSet", "saga-postgres")["spec"]["template"]["spec"][
        "containers"
    ]
    args = container["args"]
    assert args[0] == "postgres"
    options = [args[i + 1] for i, arg in enumerate(args) if arg == "-c"]
    return dict(option.split("=", 1) for option in options)


def max_pods(render: Any, service: str) -> int:
    """Pods of a service at its worst: fully scaled, in the middle of a rolling update."""
    deployment = render.deployment(service)
    autoscalers = [
        hpa
        for hpa in render.of_kind("HorizontalPodAutoscaler")
        if hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    ]
    replicas = (
        autoscalers[0]["spec"]["maxReplicas"] if autoscalers else deployment["spec"]["replicas"]
    )
    strategy = deployment["spec"].get("strategy", {"type": "RollingUpdate"})
    if strategy["type"] == "Recreate":
        return int(replicas)
    surge = strategy.get("rollingUpdate", {}).get("maxSurge", "25%")  # Kubernetes' default
    if isinstance(surge, str):  # a percentage, rounded up
        surge = math.ceil(replicas * int(surge.rstrip("%")) / 100)
    return int(replicas + surge)


def budget(render: Any) -> dict[str, int]:
    """Connections each client may hold at once, by client."""
    found: dict[str, int] = {}
    for where, _, spec in render.pod_specs():
        kind, name = where.split("/", 1)
        uses_database = any(
            var["name"] == "DATABASE_URL"
            for container in [*spec.get("initContainers", []), *spec["containers"]]
            for var in container.get("env", [])
        )
        if kind in ("Deployment", "Job"):
            assert uses_database, f"{where} was expected to use Postgres"
        if kind == "Deployment":
            service = name.removeprefix("saga-")
            env = render.env(service)
            pool = int(env["DB_POOL_SIZE"]) + int(env["DB_MAX_OVERFLOW"])
            found[where] = max_pods(render, service) * pool
        elif kind == "Job":
            assert spec["containers"][0]["command"][1] == "migrate", where
            parallelism = render.get("Job", name)["spec"].get("parallelism", 1)
            found[where] = parallelism
        else:  # Postgres and Redis themselves, the test pod
            assert not uses_database, f"{where} uses Postgres but is not counted"
    found["reserved"] = int(server_settings(render)["superuser_reserved_connections"])
    return found


@pytest.mark.parametrize("own_postgres", own_servers("postgres"))
def test_every_client_at_its_worst_fits_in_max_connections(
    own_postgres: str, rendered: dict[str, Any]
) -> None:
    render = rendered[own_postgres]
    clients = budget(render)
    limit = int(server_settings(render)["max_connections"])
    assert sum(clients.values()) <= limit, f"{own_postgres}: {clients} > {limit}"


def test_production_budget_counts_surge_jobs_and_reserved(rendered: dict[str, Any]) -> None:
    clients = budget(rendered["production"])
    for service in SERVICES:
        assert clients[f"Deployment/saga-{service}"] == (6 + 2) * (4 + 4)
        assert clients[f"Job/saga-{service}-migrate"] == 1
    assert clients["reserved"] == 3
    assert sum(clients.values()) == 328
    assert server_settings(rendered["production"])["max_connections"] == "350"


def test_a_budget_over_the_limit_is_caught(render_values: Any) -> None:
    values = values_of("production")
    values["defaults"]["autoscaling"]["maxReplicas"] = 8
    render = render_values(values)
    assert sum(budget(render).values()) > int(server_settings(render)["max_connections"])


def test_the_test_pod_needs_no_connection(rendered: dict[str, Any]) -> None:
    (test_pod,) = rendered["production"].of_kind("Pod")
    assert "DATABASE_URL" not in str(test_pod)
    assert "Pod/saga-test" not in budget(rendered["production"])


def postgres_bytes(setting: str) -> int:
    """A Postgres memory setting ("512MB"; a bare number counts 8kB pages) in bytes."""
    match = re.fullmatch(r"([0-9]+)(kB|MB|GB|TB)?", setting)
    assert match, setting
    return int(match[1]) * POSTGRES_UNITS.get(match[2] or "", 8192)


@pytest.mark.parametrize("own_postgres", own_servers("postgres"))
def test_the_memory_request_holds_shared_buffers_and_every_backend(
    own_postgres: str, rendered: dict[str, Any]
) -> None:
    render = rendered[own_postgres]
    settings = server_settings(render)
    needed = postgres_bytes(settings["shared_buffers"])
    needed += int(settings["max_connections"]) * BACKEND_BYTES
    (container,) = render.get("StatefulSet", "saga-postgres")["spec"]["template"]["spec"][
        "containers"
    ]
    resources = container["resources"]
    assert quantity_bytes(resources["requests"]["memory"]) >= needed
    assert quantity_bytes(resources["limits"]["memory"]) >= quantity_bytes(
        resources["requests"]["memory"]
    )
