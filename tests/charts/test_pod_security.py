"""Every pod of every render meets the restricted Pod Security Standard, and more.

https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted, checked
on the services, their migration init containers or Jobs, the `helm test` pod and
both subcharts; plus what the chart promises on top: a read-only root filesystem with a
writable /tmp, no service account token, requests and limits everywhere, and probes.
"""

from __future__ import annotations

from typing import Any

import pytest
from chartkit import SERVICES

ALLOWED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
SUBCHART_USER = 999  # the official postgres and redis images' users
SAGA_USER = 10001


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def restricted_violations(spec: dict[str, Any]) -> list[str]:
    """What in a pod spec the restricted profile forbids (empty: compliant)."""
    found = []
    pod = spec.get("securityContext", {})
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(flag):
            found.append(flag)
    for volume in spec.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUMES:
            found.append(f"volume {volume['name']} is {kinds}")
    for container in containers(spec):
        context = container.get("securityContext", {})
        name = container["name"]
        if context.get("allowPrivilegeEscalation") is not False:
            found.append(f"{name}: allowPrivilegeEscalation is not false")
        if "ALL" not in context.get("capabilities", {}).get("drop", []):
            found.append(f"{name}: capabilities do not drop ALL")
        if set(context.get("capabilities", {}).get("add", [])) - {"NET_BIND_SERVICE"}:
            found.append(f"{name}: adds capabilities")
        if context.get("privileged"):
            found.append(f"{name}: privileged")
        if not (context.get("runAsNonRoot") or pod.get("runAsNonRoot")):
            found.append(f"{name}: runAsNonRoot is not true")
        if 0 in (context.get("runAsUser"), pod.get("runAsUser")):
            found.append(f"{name}: runs as root")
        seccomp = context.get("seccompProfile") or pod.get("seccompProfile") or {}
        if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
            found.append(f"{name}: no RuntimeDefault seccomp profile")
        if any(port.get("hostPort") for port in container.get("ports", [])):
            found.append(f"{name}: hostPort")
    return found


def test_every_pod_meets_the_restricted_standard(
    values_name: str, rendered: dict[str, Any]
) -> None:
    pods = rendered[values_name].pod_specs()
    assert pods
    violations = {where: v for where, _, spec in pods if (v := restricted_violations(spec))}
    assert violations == {}


def test_the_checker_sees_a_violation() -> None:
    spec = {"containers": [{"name": "app", "securityContext": {"privileged": True}}]}
    assert len(restricted_violations(spec)) >= 5


def test_all_pods_are_checked(values_name: str, rendered: dict[str, Any]) -> None:
    where = {where for where, _, _ in rendered[values_name].pod_specs()}
    expected = {f"Deployment/saga-{name}" for name in SERVICES} | {"Pod/saga-test"}
    if values_name != "external":
        expected |= {"StatefulSet/saga-postgres", "StatefulSet/saga-redis"}
    if values_name == "production":
        expected |= {f"Job/saga-{name}-migrate" for name in SERVICES}
    assert where == expected


def test_pods_run_as_their_images_unprivileged_user(
    values_name: str, rendered: dict[str, Any]
) -> None:
    for where, _, spec in rendered[values_name].pod_specs():
        context = spec["securityContext"]
        user = SUBCHART_USER if where.startswith("StatefulSet/") else SAGA_USER
        assert (context["runAsUser"], context["runAsGroup"], context["fsGroup"]) == (user,) * 3


def test_root_filesystems_are_read_only_with_a_writable_tmp(
    values_name: str, rendered: dict[str, Any]
) -> None:
    for where, _, spec in rendered[values_name].pod_specs():
        empty_dirs = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        for container in containers(spec):
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, where
            tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
            assert len(tmp) == 1 and tmp[0]["name"] in empty_dirs, f"{where} {container['name']}"


def test_no_pod_gets_a_service_account_token(values_name: str, rendered: dict[str, Any]) -> None:
    render = rendered[values_name]
    for where, _, spec in render.pod_specs():
        assert spec["automountServiceAccountToken"] is False, where
    for account in render.of_kind("ServiceAccount"):
        assert account["automountServiceAccountToken"] is False


def test_every_container_has_cpu_and_memory_requests_and_limits(
    values_name: str, rendered: dict[str, Any]
) -> None:
    for where, _, spec in rendered[values_name].pod_specs():
        for container in containers(spec):
            resources = container["resources"]
            for kind in ("requests", "limits"):
                assert set(resources[kind]) >= {"cpu", "memory"}, f"{where} {kind}"


@pytest.mark.parametrize("service", SERVICES)
def test_service_probes_use_healthz_and_readyz(service: str, rendered: dict[str, Any]) -> None:
    container = rendered["default"].container(service)
    probes = {
        kind: (container[kind]["httpGet"]["path"], container[kind]["httpGet"]["port"])
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert probes == {
        "startupProbe": ("/healthz", "http"),
        "livenessProbe": ("/healthz", "http"),
        "readinessProbe": ("/readyz", "http"),
    }
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]


@pytest.mark.parametrize("server", ["postgres", "redis"])
def test_subchart_servers_have_all_three_probes(server: str, rendered: dict[str, Any]) -> None:
    spec = rendered["default"].get("StatefulSet", f"saga-{server}")["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[kind]["exec"]["command"], kind


def test_migrations_run_in_an_init_container_before_the_service(rendered: dict[str, Any]) -> None:
    for service in SERVICES:
        spec = rendered["default"].deployment(service)["spec"]["template"]["spec"]
        (init,) = spec["initContainers"]
        assert init["command"] == [service, "migrate", "--wait", "120"]
        assert spec["containers"][0]["command"] == [service, "serve"]
        assert init["image"] == spec["containers"][0]["image"] == f"saga/{service}:0.1.0"
        assert init["env"] == spec["containers"][0]["env"]
        assert init["envFrom"] == spec["containers"][0]["envFrom"]
