"""The services get every setting their code reads, from objects that exist.

The list of settings comes from the code: each service's Settings class (sagakit's
ServiceSettings plus the service's own fields), one UPPER_CASE variable per field.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from chartkit import SERVICES, TEST_ISSUER, references, values_of
from pydantic_settings import BaseSettings

SET_BY_THE_CLASS = {"service_name"}  # each Settings subclass sets its own name
EXISTING_SECRETS = {"saga-database-urls", "saga-redis-url"}  # external.yaml's own Secrets


def settings_class(service: str) -> type[BaseSettings]:
    cls: type[BaseSettings] = importlib.import_module(f"{service}.config").Settings
    return cls


def variables_read_by(service: str) -> set[str]:
    return {f.upper() for f in settings_class(service).model_fields} - {
        f.upper() for f in SET_BY_THE_CLASS
    }


def config_map(render: Any, service: str) -> dict[str, str]:
    container = render.container(service)
    (source,) = container["envFrom"]
    data: dict[str, str] = render.get("ConfigMap", source["configMapRef"]["name"])["data"]
    return data


def environment(render: Any, service: str) -> dict[str, Any]:
    """Every variable the service container gets: its ConfigMap, then its own env list."""
    env: dict[str, Any] = dict(config_map(render, service))
    for var in render.container(service)["env"]:
        env[var["name"]] = var.get("value", var.get("valueFrom"))
    return env


def secret_value(render: Any, ref: dict[str, str]) -> str:
    data = render.get("Secret", ref["name"])["data"]
    return base64.b64decode(data[ref["key"]]).decode()


def test_settings_classes_name_the_variables_the_chart_must_set() -> None:
    assert "EVENT_TRANSPORT" in variables_read_by("booking")
    assert "AUTO_APPROVE" in variables_read_by("manager")
    assert "AUTO_APPROVE" not in variables_read_by("booking")


@pytest.mark.parametrize("service", SERVICES)
def test_every_setting_the_service_reads_is_set(
    values_name: str, service: str, rendered: dict[str, Any]
) -> None:
    missing = variables_read_by(service) - set(environment(rendered[values_name], service))
    assert not missing, f"{service} reads {sorted(missing)} but the chart does not set them"


@pytest.mark.parametrize("service", SERVICES)
def test_config_map_holds_only_settings_the_service_reads(
    service: str, rendered: dict[str, Any]
) -> None:
    # A misspelt key would be ignored silently (the Settings classes ignore extras).
    keys = set(config_map(rendered["default"], service))
    known = variables_read_by(service)
    unknown = {key for key in keys - known if not key.startswith("OTEL_")}
    assert unknown == set()


@pytest.mark.parametrize("service", SERVICES)
def test_the_service_parses_its_rendered_settings(
    values_name: str, service: str, rendered: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in environment(rendered[values_name], service).items():
        plain = value if isinstance(value, str) else "from-the-cluster"
        monkeypatch.setenv(name, plain.replace("$(K8S_POD_NAME)", "saga-booking-0"))
    settings: Any = settings_class(service)()
    expected = values_of(values_name).get("config", {}).get("EVENT_TRANSPORT", "streams")
    assert (settings.host, settings.port) == ("0.0.0.0", 8000)
    assert settings.event_transport == expected
    assert settings.log_format == "json"
    assert settings.consumer_name == "saga-booking-0"


def test_pubsub_values_switch_all_five_to_pubsub(rendered: dict[str, Any]) -> None:
    for service in SERVICES:
        assert config_map(rendered["pubsub"], service)["EVENT_TRANSPORT"] == "pubsub"
        assert config_map(rendered["default"], service)["EVENT_TRANSPORT"] == "streams"


def test_only_manager_gets_auto_approve(rendered: dict[str, Any]) -> None:
    for service in SERVICES:
        has = "AUTO_APPROVE" in config_map(rendered["default"], service)
        assert has == (service == "manager")
    assert config_map(rendered["default"], "manager")["AUTO_APPROVE"] == "true"


def test_large_numbers_are_not_written_in_scientific_notation(render_values: Any) -> None:
    render = render_values({"config": {"STREAM_MAXLEN": 5000000, "RELAY_POLL_SECONDS": 0.25}})
    data = config_map(render, "booking")
    assert (data["STREAM_MAXLEN"], data["RELAY_POLL_SECONDS"]) == ("5000000", "0.25")


@pytest.mark.parametrize("service", SERVICES)
def test_telemetry_is_wired_through_standard_otel_variables(
    service: str, rendered: dict[str, Any]
) -> None:
    env = environment(rendered["kind"], service)
    assert env["OTEL_SERVICE_NAME"] == service
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.observability:4318"
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    attributes = dict(pair.split("=", 1) for pair in env["OTEL_RESOURCE_ATTRIBUTES"].split(","))
    assert attributes["k8s.pod.name"] == "$(K8S_POD_NAME)"
    assert attributes["k8s.namespace.name"] == "$(K8S_NAMESPACE_NAME)"
    assert attributes["deployment.environment.name"] == "kind"
    assert env["K8S_POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["CONSUMER_NAME"] == "$(K8S_POD_NAME)"


def test_an_empty_endpoint_turns_the_export_off(render_values: Any) -> None:
    render = render_values({"otel": {"endpoint": ""}, "networkPolicy": {"enabled": True}})
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in environment(render, "booking")
    egress = render.get("NetworkPolicy", "saga-booking")["spec"]["egress"]
    assert all(4318 not in [p["port"] for p in rule["ports"]] for rule in egress)


def test_dependent_variables_are_defined_before_use(
    values_name: str, rendered: dict[str, Any]
) -> None:
    # Kubernetes expands $(VAR) only from variables earlier in the same list.
    for where, _, spec in rendered[values_name].pod_specs():
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            seen: set[str] = set()
            for var in container.get("env", []):
                for used in re.findall(r"\$\(([A-Z0-9_]+)\)", var.get("value", "")):
                    assert used in seen, f"{where} {container['name']}: {var['name']} uses {used}"
                seen.add(var["name"])
            for arg in container.get("args", []):
                for used in re.findall(r"\$\(([A-Z0-9_]+)\)", arg):
                    assert used in seen, f"{where} {container['name']}: args use {used}"


def test_every_referenced_secret_and_config_map_exists(
    values_name: str, rendered: dict[str, Any]
) -> None:
    render = rendered[values_name]
    existing = {(o["kind"], o["metadata"]["name"]): o for o in render.objects}
    external = values_of(values_name)
    for where, _, spec in render.pod_specs():
        for kind, name, key in references(spec):
            if kind == "Secret" and name in EXISTING_SECRETS:
                assert name in str(external), f"{where}: {name} is not named in the values"
                continue
            assert (kind, name) in existing, f"{where} uses {kind} {name}, which is not rendered"
            if key is not None:
                assert key in existing[(kind, name)]["data"], f"{where}: {name} has no {key}"


def test_the_external_values_use_only_the_secrets_they_name(rendered: dict[str, Any]) -> None:
    render = rendered["external"]
    # The chart writes no credentials of its own; only the event keys (it generates them).
    assert [s["metadata"]["name"] for s in render.of_kind("Secret")] == ["saga-event-keys"]
    env = environment(render, "payment")
    assert env["DATABASE_URL"] == {
        "secretKeyRef": {"name": "saga-database-urls", "key": "payment-database-url"}
    }
    assert env["REDIS_URL"] == {"secretKeyRef": {"name": "saga-redis-url", "key": "redis-url"}}


@pytest.mark.parametrize("service", SERVICES)
def test_service_url_and_postgres_role_share_one_password(
    service: str, rendered: dict[str, Any]
) -> None:
    render = rendered["default"]
    url = urlsplit(
        secret_value(render, environment(render, service)["DATABASE_URL"]["secretKeyRef"])
    )
    assert (url.scheme, url.username, url.hostname, url.port) == (
        "postgresql",
        service,
        "saga-postgres",
        5432,
    )
    assert url.path == f"/{service}"
    postgres = render.get("StatefulSet", "saga-postgres")["spec"]["template"]["spec"]
    env = {var["name"]: var for var in postgres["containers"][0]["env"]}
    ref = env[f"DATABASE_PASSWORD_{service.upper()}"]["valueFrom"]["secretKeyRef"]
    assert secret_value(render, ref) == url.password == f"{service}-password"


def test_each_service_logs_into_redis_as_its_own_user_of_the_acl_file(
    rendered: dict[str, Any],
) -> None:
    render = rendered["default"]
    users = secret_value(render, {"name": "saga-credentials", "key": "redis-users.acl"})
    lines = {line.split()[1]: line for line in users.splitlines()}
    for service in SERVICES:
        ref = environment(render, service)["REDIS_URL"]["secretKeyRef"]
        url = urlsplit(secret_value(render, ref))
        assert (url.scheme, url.hostname, url.port, url.path) == ("redis", "saga-redis", 6379, "/0")
        assert url.username == service
        digest = hashlib.sha256((url.password or "").encode()).hexdigest()
        assert f" on #{digest} " in lines[service]
    redis = render.get("StatefulSet", "saga-redis")["spec"]["template"]["spec"]
    env = {var["name"]: var for var in redis["containers"][0]["env"]}
    admin = secret_value(render, env["REDISCLI_AUTH"]["valueFrom"]["secretKeyRef"])
    assert f" on #{hashlib.sha256(admin.encode()).hexdigest()} " in lines["admin"]  # the probes


def test_images_follow_registry_prefix_and_one_tag(render_values: Any) -> None:
    render = render_values(
        {"global": {"image": {"registry": "ghcr.io/acme/", "prefix": "saga-", "tag": "1.2.3"}}}
    )
    for service in SERVICES:
        assert render.container(service)["image"] == f"ghcr.io/acme/saga-{service}:1.2.3"
    assert render.get("Pod", "saga-test")["spec"]["containers"][0]["image"] == (
        "ghcr.io/acme/saga-booking:1.2.3"
    )


def checksums(render: Any) -> dict[str, tuple[str, str]]:
    found = {}
    for service in SERVICES:
        annotations = render.deployment(service)["spec"]["template"]["metadata"]["annotations"]
        found[service] = (annotations["checksum/config"], annotations["checksum/secret"])
    return found


def test_a_global_setting_change_rolls_every_service(render_values: Any) -> None:
    before = checksums(render_values({}))
    after = checksums(render_values({"config": {"LOG_LEVEL": "DEBUG"}}))
    for service in SERVICES:
        assert after[service][0] != before[service][0]
        assert after[service][1] == before[service][1]


def test_a_service_setting_change_rolls_only_that_service(render_values: Any) -> None:
    before = checksums(render_values({}))
    after = checksums(render_values({"services": {"booking": {"config": {"LOG_LEVEL": "DEBUG"}}}}))
    changed = {service for service in SERVICES if after[service] != before[service]}
    assert changed == {"booking"}


def test_a_credential_change_rolls_the_services(render_values: Any) -> None:
    before = checksums(render_values({}))
    after = checksums(render_values({"auth": {"redisPassword": "another-password"}}))
    for service in SERVICES:
        assert after[service][1] != before[service][1]
        assert after[service][0] == before[service][0]


def test_checksums_do_not_depend_on_generated_passwords(render_values: Any) -> None:
    # Passwords are random until the cluster has them: the checksums must not follow them.
    oidc = {"auth": {"issuer": TEST_ISSUER}}
    first, second = render_values(oidc, fixed=False), render_values(oidc, fixed=False)
    assert secret_value(first, {"name": "saga-credentials", "key": "redis-password"}) != (
        secret_value(second, {"name": "saga-credentials", "key": "redis-password"})
    )
    assert checksums(first) == checksums(second)


def test_generated_passwords_are_long_and_the_same_in_url_and_subchart(
    render_values: Any,
) -> None:
    render = render_values({"auth": {"issuer": TEST_ISSUER}}, fixed=False)
    secret = {"name": "saga-credentials"}
    for service in SERVICES:
        password = secret_value(render, {**secret, "key": f"{service}-password"})
        url = urlsplit(secret_value(render, {**secret, "key": f"{service}-database-url"}))
        assert re.fullmatch(r"[A-Za-z0-9]{24}", password)
        assert url.password == password
    for user in (*SERVICES, "operator"):
        password = secret_value(render, {**secret, "key": f"{user}-redis-password"})
        url = urlsplit(secret_value(render, {**secret, "key": f"{user}-redis-url"}))
        assert re.fullmatch(r"[A-Za-z0-9]{24}", password)
        assert (url.username, url.password) == (user, password)
    assert re.fullmatch(
        r"[A-Za-z0-9]{24}", secret_value(render, {**secret, "key": "redis-password"})
    )


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_connects_as_its_own_role_to_its_own_database(
    service: str, rendered: dict[str, Any]
) -> None:
    for container in ("migrate", service):
        env = rendered["kind"].env(service, container)
        database = urlsplit(env["DATABASE_URL"])
        assert (database.hostname, database.port) == ("saga-postgres", 5432)
        assert (database.username, database.password) == (service, f"{service}-password")
        assert database.path == f"/{service}"
        redis = urlsplit(env["REDIS_URL"])
        assert (redis.hostname, redis.username, redis.password) == (
            "saga-redis",
            service,
            f"{service}-redis",
        )
        assert env["CONSUMER_NAME"] == f"saga-{service}-0"  # $(K8S_POD_NAME), expanded
