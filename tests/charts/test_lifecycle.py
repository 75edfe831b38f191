"""Starting and stopping a pod: the kubelet's budgets cover what the service itself waits.

The service's timeouts are read from the rendered ConfigMap (what the process gets), the
probe and grace period from the rendered Deployment, so a change on either side that
breaks the relation fails here.
"""

from __future__ import annotations

from typing import Any

import pytest
from chartkit import SERVICES

SHUTDOWN_TIMEOUTS = (
    "SHUTDOWN_HTTP_SECONDS",
    "SHUTDOWN_CONSUMERS_SECONDS",
    "SHUTDOWN_RELAY_SECONDS",
)


def settings(render: Any, service: str) -> dict[str, str]:
    (source,) = render.container(service)["envFrom"]
    data: dict[str, str] = render.get("ConfigMap", source["configMapRef"]["name"])["data"]
    return data


def pre_stop_seconds(container: dict[str, Any]) -> float:
    hook = container.get("lifecycle", {}).get("preStop")
    if hook is None:
        return 0.0
    command = hook["exec"]["command"]
    assert command[0] == "sleep", command  # an executable of the Debian-based images
    return float(command[1])


def grace_and_drain(render: Any, service: str) -> tuple[float, float]:
    """(terminationGracePeriodSeconds, preStop + the service's own shutdown timeouts)."""
    spec = render.deployment(service)["spec"]["template"]["spec"]
    config = settings(render, service)
    drain = sum(float(config[name]) for name in SHUTDOWN_TIMEOUTS)
    return float(spec["terminationGracePeriodSeconds"]), pre_stop_seconds(
        render.container(service)
    ) + drain


@pytest.mark.parametrize("service", SERVICES)
def test_the_grace_period_outlasts_pre_stop_and_every_shutdown_timeout(
    values_name: str, service: str, rendered: dict[str, Any]
) -> None:
    grace, needed = grace_and_drain(rendered[values_name], service)
    assert grace > needed, f"{service}: {grace}s of grace for {needed}s of shutdown"


@pytest.mark.parametrize("service", SERVICES)
def test_pods_sleep_before_sigterm_so_the_service_stops_routing_to_them_first(
    values_name: str, service: str, rendered: dict[str, Any]
) -> None:
    assert pre_stop_seconds(rendered[values_name].container(service)) >= 1


def test_a_longer_timeout_of_one_service_lengthens_only_its_grace_period(
    render_values: Any,
) -> None:
    render = render_values(
        {"services": {"invoice": {"config": {"SHUTDOWN_CONSUMERS_SECONDS": 120}}}}
    )
    grace, needed = grace_and_drain(render, "invoice")
    assert needed >= 120 and grace > needed
    assert grace_and_drain(render, "booking")[0] < 120


def test_no_pre_stop_hook_when_its_sleep_is_zero(render_values: Any) -> None:
    render = render_values({"defaults": {"shutdown": {"preStopSeconds": 0}}})
    container = render.container("payment")
    assert "lifecycle" not in container
    grace, needed = grace_and_drain(render, "payment")
    assert grace > needed


@pytest.mark.parametrize("service", SERVICES)
def test_the_startup_probe_outlasts_the_wait_for_redis(
    values_name: str, service: str, rendered: dict[str, Any]
) -> None:
    render = rendered[values_name]
    probe = render.container(service)["startupProbe"]
    budget = probe["periodSeconds"] * probe["failureThreshold"]
    wait = float(settings(render, service)["REDIS_WAIT_SECONDS"])
    # The process starts (imports, schema check) before and after the wait itself.
    assert budget >= wait + 20, f"{service}: {budget}s of startup for a {wait}s Redis wait"


def test_a_longer_redis_wait_lengthens_the_startup_budget(render_values: Any) -> None:
    render = render_values({"config": {"REDIS_WAIT_SECONDS": 300}})
    probe = render.container("manager")["startupProbe"]
    assert probe["periodSeconds"] * probe["failureThreshold"] >= 320
