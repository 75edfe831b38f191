"""global.credentialsSecret: the servers' passwords come from your Secret, renders are stable.

Without it the chart generates the passwords and keeps them across upgrades with Helm's
`lookup`, which an offline render (`helm template`, a GitOps controller) cannot do: each
render makes new ones. With it nothing is generated or looked up. Also here: the CA of
your own servers (tls.caSecret), mounted where the URLs name it.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from chartkit import SERVICES, TEST_ISSUER, deep_merge, references, values_of

YOURS = "saga-passwords"
SERVICE_KEYS = ("password", "redis-url", "event-signing-key", "event-verify-keys")
# The issuer as production sets it: without one the default (oidc) does not render.
VALUES: dict[str, Any] = {"global": {"credentialsSecret": YOURS}, "auth": {"issuer": TEST_ISSUER}}
# What the pods read from it: the database and Redis admin passwords, each service's Redis
# user URL and event keys (Redis reads its ACL file, redis-users.acl, as a whole volume).
KEYS = {
    *(f"{name}-{key}" for name in SERVICES for key in SERVICE_KEYS),
    "redis-password",
    "postgres-password",
}


def with_your_secret(render: Any) -> Any:
    """The render plus your Secret, as the cluster would hold it (pw-<key>)."""
    data = {key: base64.b64encode(f"pw-{key}".encode()).decode() for key in KEYS}
    secret = {"kind": "Secret", "metadata": {"name": YOURS}, "data": data}
    render.objects.append(secret)
    return render


@pytest.mark.parametrize("name", ["default", "kind", "production", "pubsub"])
def test_two_renders_with_your_secret_are_identical(render_values: Any, name: str) -> None:
    values = deep_merge(values_of(name), VALUES)
    first, second = render_values(values, fixed=False), render_values(values, fixed=False)
    assert first.manifests == second.manifests
    assert not first.of_kind("Secret")  # nothing generated, nothing written


def test_without_it_each_offline_render_makes_new_passwords(render_values: Any) -> None:
    # Why the option exists: the chart's own passwords differ from render to render.
    issuer = {"auth": {"issuer": TEST_ISSUER}}
    first, second = render_values(issuer, fixed=False), render_values(issuer, fixed=False)
    assert first.manifests != second.manifests


def test_every_password_is_read_from_your_secret_under_the_charts_keys(
    render_values: Any,
) -> None:
    render = render_values(deep_merge(values_of("production"), VALUES), fixed=False)
    used = {
        (name, key)
        for _, _, spec in render.pod_specs()
        for kind, name, key in references(spec)
        if kind == "Secret"
    }
    assert used == {(YOURS, key) for key in KEYS} | {(YOURS, None)}  # the ACL file volume


@pytest.mark.parametrize("service", SERVICES)
def test_the_services_urls_carry_your_passwords(render_values: Any, service: str) -> None:
    render = with_your_secret(render_values(VALUES, fixed=False))
    for container in ("migrate", service):
        env = render.env(service, container)
        assert env["DATABASE_URL"] == (
            f"postgresql://{service}:pw-{service}-password@saga-postgres:5432/{service}"
        )
        assert env["REDIS_URL"] == f"pw-{service}-redis-url"  # its own Redis user's URL


def test_the_migration_jobs_carry_your_passwords_too(render_values: Any) -> None:
    values = deep_merge(values_of("production"), VALUES)
    render = with_your_secret(render_values(values, fixed=False))
    env = render.job_env("payment", "saga-payment-migrate-abcde")
    assert env["DATABASE_URL"].startswith("postgresql://payment:pw-payment-password@")


def secret_refs(spec: dict[str, Any]) -> dict[str, Any]:
    """Variable -> secretKeyRef, for the variables of a server's container that have one."""
    env = spec["containers"][0]["env"]
    return {v["name"]: v["valueFrom"]["secretKeyRef"] for v in env if "valueFrom" in v}


def test_the_servers_read_the_same_keys(render_values: Any) -> None:
    render = render_values(VALUES, fixed=False)
    postgres = render.get("StatefulSet", "saga-postgres")["spec"]["template"]["spec"]
    env = secret_refs(postgres)
    assert env["POSTGRES_PASSWORD"] == {"name": YOURS, "key": "postgres-password"}
    assert env["DATABASE_PASSWORD_BOOKING"] == {"name": YOURS, "key": "booking-password"}
    redis = render.get("StatefulSet", "saga-redis")["spec"]["template"]["spec"]
    env = secret_refs(redis)
    assert env["REDISCLI_AUTH"] == {"name": YOURS, "key": "redis-password"}  # the probes' admin
    acl = next(v for v in redis["volumes"] if v["name"] == "acl")["secret"]
    assert acl == {"secretName": YOURS, "items": [{"key": "redis-users.acl", "path": "users.acl"}]}


def test_your_secret_and_passwords_in_the_values_are_refused_together(render_values: Any) -> None:
    with pytest.raises(Exception, match=r"leave auth\.databasePasswords"):
        render_values(VALUES)  # TEST_VALUES gives passwords


def test_the_ca_of_your_servers_is_mounted_where_the_urls_name_it(render_values: Any) -> None:
    values = deep_merge(
        values_of("external"),
        {
            "tls": {"caSecret": "db-ca", "caKey": "root.pem"},
            "migrations": {"job": {"enabled": True}},
            "defaults": {"migrate": {"enabled": False}},
        },
    )
    render = render_values(values)
    mount = {"name": "server-ca", "mountPath": "/etc/saga/tls", "readOnly": True}
    volume = {"secretName": "db-ca", "items": [{"key": "root.pem", "path": "ca.crt"}]}
    workloads = [(w, spec) for w, _, spec in render.pod_specs() if w != "Pod/saga-test"]
    assert len(workloads) == 2 * len(SERVICES)  # the Deployments and the migration Jobs
    for where, spec in workloads:
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["server-ca"]["secret"] == volume, where
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            assert mount in container["volumeMounts"], where


def test_no_ca_is_mounted_by_default(rendered: dict[str, Any]) -> None:
    for where, _, spec in rendered["production"].pod_specs():
        assert "server-ca" not in {v["name"] for v in spec.get("volumes", [])}, where
