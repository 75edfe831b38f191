"""Who may call the APIs, as the chart sets it up: oidc with an issuer, or dev when allowed.

oidc (the default) renders the issuer settings and lets the services fetch the issuer's
keys; dev (values/kind.yaml) generates a signing key into a Secret and mounts it, read
only, wherever AUTH_DEV_KEY_FILE names it. Unsafe or incomplete settings do not render.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from chartkit import SAGA, SERVICES, TEST_ISSUER, values_of
from netpol import allows, endpoint

from sagakit import devauth

KEY_DIR = "/var/run/saga/auth"
KEY_FILE = f"{KEY_DIR}/dev-signing-key.pem"
AUTH_KEYS = {"AUTH_MODE", "AUTH_ISSUER", "AUTH_AUDIENCE", "AUTH_JWKS_URL", "AUTH_ROLES_CLAIM"}
DEV_ON = {"auth": {"mode": "dev", "dev": {"allowed": True}}}


def config(render: Any, service: str) -> dict[str, str]:
    data: dict[str, str] = render.get("ConfigMap", f"saga-{service}")["data"]
    return data


def mounts(spec: dict[str, Any], container: str) -> dict[str, dict[str, Any]]:
    found = next(
        c for c in [*spec.get("initContainers", []), *spec["containers"]] if c["name"] == container
    )
    return {mount["name"]: mount for mount in found.get("volumeMounts", [])}


def volumes(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {volume["name"]: volume for volume in spec.get("volumes", [])}


def pod_spec(render: Any, service: str) -> dict[str, Any]:
    spec: dict[str, Any] = render.deployment(service)["spec"]["template"]["spec"]
    return spec


@pytest.mark.parametrize("service", SERVICES)
def test_oidc_is_the_default_and_names_the_issuer(service: str, rendered: dict[str, Any]) -> None:
    settings = config(rendered["default"], service)
    assert {key: settings[key] for key in AUTH_KEYS} == {
        "AUTH_MODE": "oidc",
        "AUTH_ISSUER": TEST_ISSUER,
        "AUTH_AUDIENCE": "saga",
        "AUTH_JWKS_URL": "",
        "AUTH_ROLES_CLAIM": "roles",
    }
    assert settings["AUTH_DEV_KEY_FILE"] == ""  # set, and empty: no key in oidc mode
    assert "auth-dev-key" not in volumes(pod_spec(rendered["default"], service))


def test_no_values_file_but_kind_uses_dev_mode(values_name: str, rendered: dict[str, Any]) -> None:
    modes = {config(rendered[values_name], service)["AUTH_MODE"] for service in SERVICES}
    assert modes == {"dev" if values_name == "kind" else "oidc"}
    secrets = [s["metadata"]["name"] for s in rendered[values_name].of_kind("Secret")]
    assert ("saga-dev-auth" in secrets) == (values_name == "kind")


def test_keycloak_values_read_realm_roles(rendered: dict[str, Any], render_values: Any) -> None:
    settings = config(rendered["keycloak"], "payment")
    assert settings["AUTH_ROLES_CLAIM"] == "realm_access.roles"
    assert settings["AUTH_ISSUER"] == TEST_ISSUER  # the tests' issuer; yours with --set
    with pytest.raises(Exception, match=r"auth\.issuer is required"):
        render_values(values_of("keycloak"), fixed=False)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"auth": {"mode": "dev"}}, "Set auth.dev.allowed=true as well"),
        ({"auth": {"issuer": ""}}, "auth.issuer is required with auth.mode=oidc"),
        ({"auth": {"issuer": "", "dev": {"allowed": True}}}, "auth.issuer is required"),
    ],
)
def test_unsafe_or_incomplete_auth_does_not_render(
    render_values: Any, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(Exception, match=message) as failure:
        render_values(values)
    assert "docs/security.md" in str(failure.value)


def test_production_values_need_your_issuer(render_values: Any) -> None:
    with pytest.raises(Exception, match=r"auth\.issuer is required"):
        render_values(values_of("production"), fixed=False)
    header = (SAGA / "values" / "production.yaml").read_text().split("\n\n")[0]
    assert "auth.issuer" in header and "--set auth.issuer=" in header


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"auth": {"mode": "none"}}, "mode"),
        ({"auth": {"issuer": "keycloak.example.com/realms/saga"}}, "issuer"),
        ({"auth": {"rolesClaim": "realm access"}}, "rolesClaim"),
        ({"auth": {"dev": {"alowed": True}}}, "alowed"),
        ({"networkPolicy": {"issuer": {"port": [8443]}}}, "port"),
        ({"test": {"tokenSecrets": "x"}}, "tokenSecrets"),
    ],
)
def test_the_schema_refuses_auth_mistakes(
    render_values: Any, values: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ValueError, match="schema") as error:
        render_values(values)
    assert complaint in str(error.value)


def dev_key_pem(render: Any) -> bytes:
    return base64.b64decode(render.get("Secret", "saga-dev-auth")["data"]["dev-signing-key.pem"])


def test_dev_mode_generates_a_p256_key_that_sagakit_reads(
    rendered: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(dev_key_pem(rendered["kind"]))
    key = devauth.load_key(path)  # what the services and sagactl do with it
    token = devauth.issue(key, "alice", ["customer"])
    assert token.count(".") == 2


@pytest.mark.parametrize("service", SERVICES)
def test_dev_mode_mounts_the_key_read_only_where_the_setting_names_it(
    service: str, rendered: dict[str, Any]
) -> None:
    render = rendered["kind"]
    assert config(render, service)["AUTH_DEV_KEY_FILE"] == KEY_FILE
    assert config(render, service)["AUTH_ISSUER"] == devauth.DEV_ISSUER
    spec = pod_spec(render, service)
    for container in (service, "migrate"):
        mount = mounts(spec, container)["auth-dev-key"]
        assert (mount["mountPath"], mount["readOnly"]) == (KEY_DIR, True)
    volume = volumes(spec)["auth-dev-key"]["secret"]
    assert volume["secretName"] == "saga-dev-auth"
    assert volume["items"] == [{"key": "dev-signing-key.pem", "path": "dev-signing-key.pem"}]
    assert volume["defaultMode"] == 0o440
    assert "BEGIN" not in str(config(render, service))  # the key is in no ConfigMap


def test_the_dev_key_differs_per_install_and_is_read_back_on_upgrade(
    render_values: Any,
) -> None:
    first, second = render_values(DEV_ON), render_values(DEV_ON)
    assert dev_key_pem(first) != dev_key_pem(second)  # offline: nothing to read back
    template = (SAGA / "templates" / "dev-auth-secret.yaml").read_text()
    assert 'lookup "v1" "Secret"' in template and 'genPrivateKey "ecdsa"' in template


def test_an_existing_secret_replaces_the_generated_key(render_values: Any) -> None:
    dev = {
        "auth": {
            **DEV_ON["auth"],
            "dev": {"allowed": True, "existingSecret": "my-key", "existingSecretKey": "pem"},
        }
    }
    render = render_values(dev)
    assert "saga-dev-auth" not in {s["metadata"]["name"] for s in render.of_kind("Secret")}
    volume = volumes(pod_spec(render, "booking"))["auth-dev-key"]["secret"]
    assert volume["secretName"] == "my-key"
    assert volume["items"] == [{"key": "pem", "path": "dev-signing-key.pem"}]
    assert "my-key" in render.notes and "pem" in render.notes


def test_helm_test_signs_with_the_dev_key_in_dev_mode(rendered: dict[str, Any]) -> None:
    pod = rendered["kind"].get("Pod", "saga-test")["spec"]
    (container,) = pod["containers"]
    env = {var["name"]: var.get("value") for var in container["env"]}
    assert env["SAGA_DEV_KEY_FILE"] == KEY_FILE
    assert mounts(pod, "saga")["auth-dev-key"]["readOnly"] is True
    assert volumes(pod)["auth-dev-key"]["secret"]["secretName"] == "saga-dev-auth"


def test_helm_test_takes_your_token_in_oidc_mode(
    render_values: Any, rendered: dict[str, Any]
) -> None:
    (plain,) = rendered["production"].get("Pod", "saga-test")["spec"]["containers"]
    assert not {"SAGA_TOKEN", "SAGA_DEV_KEY_FILE"} & {var["name"] for var in plain["env"]}
    render = render_values({"test": {"tokenSecret": "saga-test-token"}})
    (container,) = render.get("Pod", "saga-test")["spec"]["containers"]
    env = {var["name"]: var for var in container["env"]}
    assert env["SAGA_TOKEN"]["valueFrom"] == {
        "secretKeyRef": {"name": "saga-test-token", "key": "token"}
    }


def test_notes_say_where_the_token_comes_from(rendered: dict[str, Any]) -> None:
    kind = rendered["kind"].notes
    assert "kubectl -n saga get secret saga-dev-auth" in kind
    assert "{.data.dev-signing-key\\.pem}" in kind
    assert "export SAGA_DEV_KEY_FILE=.local/auth/cluster-dev-signing-key.pem" in kind
    assert f"a token from {TEST_ISSUER}" in rendered["production"].notes
    assert "SAGA_TOKEN" in rendered["production"].notes


def service_pod(render: Any, service: str) -> Any:
    labels = render.deployment(service)["spec"]["template"]["metadata"]["labels"]
    return endpoint(service, "saga", labels, (8000, "TCP", "http"))


ISSUER_POD = endpoint("keycloak", "keycloak", {"app.kubernetes.io/name": "keycloak"})


def egress(render: Any, service: str, port: int) -> bool:
    policies = render.of_kind("NetworkPolicy")
    return allows(
        policies, "Egress", service_pod(render, service), ISSUER_POD, (port, "TCP", ""), "saga"
    )


@pytest.mark.parametrize("service", SERVICES)
def test_in_oidc_mode_services_reach_the_issuer_on_443_only(
    service: str, rendered: dict[str, Any], render_values: Any
) -> None:
    production = rendered["production"]
    assert egress(production, service, 443)
    assert not egress(production, service, 80)
    kind = rendered["kind"]  # dev mode: no issuer to reach
    assert not egress(kind, service, 443)


def test_the_issuer_rule_can_name_your_identity_provider(render_values: Any) -> None:
    peers = [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keycloak"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "keycloak"}},
        }
    ]
    values = {
        **values_of("production"),
        "networkPolicy": {"enabled": True, "issuer": {"peers": peers, "ports": [8080]}},
    }
    render = render_values(values)
    assert egress(render, "booking", 8080)
    assert not egress(render, "booking", 443)
    elsewhere = endpoint("other", "keycloak", {"app.kubernetes.io/name": "other"})
    policies = render.of_kind("NetworkPolicy")
    pod = service_pod(render, "booking")
    assert not allows(policies, "Egress", pod, elsewhere, (8080, "TCP", ""), "saga")
