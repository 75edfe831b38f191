"""The chart's Redis ACL users and event keys are what the code requires.

Helm cannot import Python, so the chart keeps a copy of the choreography
(templates/_events.tpl); these renders are compared with what sagakit.acl and
sagakit.keyring generate from the code's own table, and the rendered ACL file is loaded
into a real redis-server to show it works as the services will use it.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import redis
from chartkit import TEST_ISSUER
from redis.exceptions import AuthenticationError, NoPermissionError

from sagakit import acl
from sagakit.choreography import SERVICES, producers_heard_by
from sagakit.signing import Verifier, load_signing_key
from sagakit.testing import free_ports

USERS = (*SERVICES, acl.OPERATOR)
DEAD = "saga.dead-letters"


def secret(render: Any, name: str) -> dict[str, str]:
    data = render.get("Secret", name)["data"]
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


def acl_file(render: Any) -> list[str]:
    return secret(render, "saga-credentials")["redis-users.acl"].splitlines()


def logins(render: Any) -> dict[str, tuple[str, str]]:
    """user -> (Redis user name, password), read from the URLs the services get."""
    credentials = secret(render, "saga-credentials")
    found = {}
    for user in USERS:
        url = urlsplit(credentials[f"{user}-redis-url"])
        found[user] = (unquote(url.username or ""), unquote(url.password or ""))
    return found


@pytest.mark.parametrize("prefix", ["", "prod.", "odd*[?]"])
def test_the_rendered_acl_file_is_what_the_code_generates(render_values, prefix: str) -> None:
    render = render_values({"config": {"EVENT_PREFIX": prefix}})
    users = logins(render)
    assert {user: name for user, (name, _) in users.items()} == {
        user: acl.username(user, prefix) for user in USERS
    }
    hashes = {name: acl.password_hash(password) for name, password in users.values()}
    lines = acl_file(render)
    assert lines[0] == "user default reset"  # the default user: off, no commands
    assert lines[1] == f"user admin on {acl.password_hash('redis-password')} ~* &* +@all"
    assert lines[2:] == acl.acl_lines(prefix, DEAD, hashes)


def test_each_service_gets_its_own_redis_user_and_the_redis_loads_the_file(rendered) -> None:
    render = rendered["default"]
    for service in SERVICES:
        assert (
            render.env(service)["REDIS_URL"]
            == secret(render, "saga-credentials")[f"{service}-redis-url"]
        )
    redis_pod = render.get("StatefulSet", "saga-redis")["spec"]["template"]["spec"]
    [container] = redis_pod["containers"]
    assert container["args"] == ["/etc/redis/redis.conf"]  # no --requirepass: the file rules
    assert "--user admin" in container["readinessProbe"]["exec"]["command"][2]
    [volume] = [v for v in redis_pod["volumes"] if v["name"] == "acl"]
    assert volume["secret"] == {
        "secretName": "saga-credentials",
        "items": [{"key": "redis-users.acl", "path": "users.acl"}],
    }
    config = render.get("ConfigMap", "saga-redis")["data"]["redis.conf"]
    assert "aclfile /etc/redis/acl/users.acl" in config


@pytest.fixture
def chart_redis(rendered, tmp_path: Path) -> Any:
    """A private redis-server on a free port with the default render's ACL file."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: `make servers` installs it", pytrace=False)
    lines = acl_file(rendered["default"])
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    if " v=7.0." in version or " v=7.1." in version:
        # This machine's Redis predates CLIENT SETINFO (7.2), which the chart's redis:7
        # image knows: leave the rule out here, nothing else.
        lines = [line.replace(f" {acl.SETINFO}", "") for line in lines]
    (tmp_path / "users.acl").write_text("\n".join(lines) + "\n")
    [port] = free_ports(1)
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--dir", str(tmp_path), "--aclfile", str(tmp_path / "users.acl")]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    client = redis.Redis(port=port, username="admin", password="redis-password")
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield port, logins(rendered["default"])
    client.close()
    server.terminate()
    server.wait()


def test_the_chart_acl_file_lets_each_service_do_only_its_part(chart_redis) -> None:
    port, users = chart_redis
    with pytest.raises(AuthenticationError):
        redis.Redis(port=port).ping()  # the default user is off
    name, password = users["payment"]
    payment = redis.Redis(port=port, username=name, password=password)
    payment.xadd("PAID_BOOKING_EVENT", {"__data__": "x"})
    payment.xgroup_create("BILLED_BOOKING_EVENT", "payment", id="$", mkstream=True)
    assert payment.xreadgroup("payment", "c", {"BILLED_BOOKING_EVENT": ">"}) == []
    for forbidden in (
        lambda: payment.xadd("INVOICE_GENERATED_EVENT", {"__data__": "x"}),
        lambda: payment.xadd("BILLED_BOOKING_EVENT", {"__data__": "x"}),
        lambda: payment.flushall(),
    ):
        with pytest.raises(NoPermissionError):
            forbidden()
    name, password = users["operator"]
    operator = redis.Redis(port=port, username=name, password=password)
    assert operator.xrange(DEAD) == []
    with pytest.raises(NoPermissionError):
        operator.xrange("PAID_BOOKING_EVENT")
    for client in (payment, operator):
        client.close()


@pytest.mark.parametrize("fixed", [True, False], ids=["given keys", "generated keys"])
def test_each_service_verifies_exactly_the_producers_it_hears(render_values, fixed) -> None:
    render = render_values({"auth": {"issuer": TEST_ISSUER}}, fixed=fixed)
    signers = {s: load_signing_key(render.env(s)["EVENT_SIGNING_KEY"]) for s in SERVICES}
    for service in SERVICES:
        verifier = Verifier.from_setting(render.env(service)["EVENT_VERIFY_KEYS"])
        assert sorted(verifier.keys) == producers_heard_by(service)
        for producer in verifier.keys:
            signature = signers[producer].sign(b"an envelope")
            assert verifier.problem(producer, b"an envelope", signature) is None
    keys = secret(render, "saga-event-keys")
    assert sorted(Verifier.from_setting(keys["operator-event-verify-keys"]).keys) == sorted(
        SERVICES
    )


def test_secrets_of_your_own_replace_the_generated_ones(render_values) -> None:
    mine = "my-redis-users"
    render = render_values(
        {
            "eventKeys": {"existingSecret": "my-event-keys"},
            "redisUsers": {"existingSecret": mine},
            "redis": {"acl": {"existingSecret": mine}, "auth": {"existingSecret": mine}},
        }
    )
    assert "saga-event-keys" not in {s["metadata"]["name"] for s in render.of_kind("Secret")}
    assert not {"redis-users.acl", "redis-password"} & set(secret(render, "saga-credentials"))
    env = render.container("invoice")["env"]
    refs = {var["name"]: var.get("valueFrom", {}).get("secretKeyRef") for var in env}
    keys = "my-event-keys"
    assert refs["REDIS_URL"] == {"name": mine, "key": "invoice-redis-url"}
    assert refs["EVENT_SIGNING_KEY"] == {"name": keys, "key": "invoice-event-signing-key"}
    assert refs["EVENT_VERIFY_KEYS"] == {"name": keys, "key": "invoice-event-verify-keys"}
    redis_pod = render.get("StatefulSet", "saga-redis")["spec"]["template"]["spec"]
    [volume] = [v for v in redis_pod["volumes"] if v["name"] == "acl"]
    assert volume["secret"]["secretName"] == mine
    [container] = redis_pod["containers"]
    auth = {v["name"]: v["valueFrom"]["secretKeyRef"]["name"] for v in container["env"]}
    assert auth == {"REDISCLI_AUTH": mine}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"services": {"billing": {"config": {"EVENT_PREFIX": "x."}}}},
            "set EVENT_PREFIX in config",
        ),
        ({"redisUsers": {"existingSecret": "mine"}}, "set redis.acl.existingSecret and"),
        ({"config": {"EVENT_PREFIX": "has space"}}, "may not hold spaces or quotes"),
    ],
)
def test_settings_the_acls_cannot_follow_are_refused(render_values, values, message) -> None:
    with pytest.raises(Exception, match=message):
        render_values(values)
