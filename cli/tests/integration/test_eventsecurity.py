"""A local stack's keys and Redis users on the real Redis: created when the connection may,
shared (with a line saying so) when it may not; the files of Secrets of your own."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.exceptions import NoPermissionError
from typer.testing import CliRunner

from sagactl.eventsecurity import (
    local_keyring,
    operator_defaults,
    prepare_local,
    secure,
    with_user,
    withdraw,
)
from sagactl.main import app
from sagakit import acl
from sagakit.choreography import SERVICES
from sagakit.keyring import Keyring
from sagakit.signing import Verifier, load_signing_key
from sagakit.testing import REDIS_URL, require_redis, unique_prefix

DEAD = "saga.dead-letters"


async def test_each_service_gets_its_own_user_when_the_connection_may_create_them() -> None:
    await require_redis()
    lines: list[str] = []
    security = await secure(REDIS_URL, unique_prefix(), DEAD, Keyring.generate(), lines.append)
    try:
        assert lines == []
        env = security.service_env()
        assert sorted(env) == sorted(SERVICES)
        invoice = Redis.from_url(env["invoice"]["REDIS_URL"])
        try:
            assert await invoice.ping()
            with pytest.raises(NoPermissionError):  # not even ACL WHOAMI: only its part
                await invoice.xadd(security.prefix + "PAID_BOOKING_EVENT", {"x": "y"})
        finally:
            await invoice.aclose()
        keys = Verifier.from_setting(env["invoice"]["EVENT_VERIFY_KEYS"]).keys
        assert sorted(keys) == ["booking", "payment"]  # booking signs reconcile requests
        load_signing_key(env["invoice"]["EVENT_SIGNING_KEY"])
    finally:
        await withdraw(security)
    admin = Redis.from_url(REDIS_URL)
    assert not set(security.users()) & set(await admin.acl_users())
    await admin.aclose()


async def test_without_acl_rights_the_services_share_the_connection_and_say_so() -> None:
    await require_redis()
    admin = Redis.from_url(REDIS_URL)
    name, password = f"{unique_prefix()}plain", secrets.token_urlsafe(16)
    await admin.acl_setuser(name, enabled=True, passwords=[f"+{password}"], commands=["+ping"])
    plain = with_user(REDIS_URL, name, {name: password})
    lines: list[str] = []
    try:
        security = await secure(plain, unique_prefix(), DEAD, Keyring.generate(), lines.append)
    finally:
        await admin.acl_deluser(name)
        await admin.aclose()
    [line] = lines
    assert "does not let sagactl create ACL users" in line
    assert "share this connection's user" in line
    assert security.own_urls == {}
    assert "REDIS_URL" not in security.service_env()["booking"]  # the stack's own URL applies
    assert security.operator_env()["REDIS_URL"] == plain


async def test_up_keeps_its_keys_and_writes_the_operators_settings(tmp_path: Path) -> None:
    await require_redis()
    prefix = unique_prefix()
    env = {"EVENT_PREFIX": prefix}
    first = await prepare_local(REDIS_URL, env, tmp_path, lambda line: None)
    second = await prepare_local(REDIS_URL, env, tmp_path, lambda line: None)
    try:
        assert first.keyring.dump() == second.keyring.dump()  # messages in flight stay valid
        assert local_keyring(tmp_path / "events").dump() == first.keyring.dump()
        assert (tmp_path / "events" / "keys.json").stat().st_mode & 0o077 == 0
        operator = operator_defaults(tmp_path / "events" / "operator.env")
        assert operator == second.operator_env()
        client = Redis.from_url(operator["REDIS_URL"])
        assert await client.xlen(f"{prefix}{DEAD}") == 0  # the operator may read dead letters
        with pytest.raises(NoPermissionError):
            await client.xlen(f"{prefix}PAID_BOOKING_EVENT")  # and nothing else
        await client.aclose()
    finally:
        await withdraw(second)


def test_redis_users_files_hold_what_the_code_requires(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["redis-users", "files", str(tmp_path), "--host", "saga-redis", "--prefix", "p."]
    )
    assert result.exit_code == 0, result.output
    acl_file = (tmp_path / "redis-users.acl").read_text().splitlines()
    logins = {}
    for name in (*SERVICES, acl.OPERATOR):
        url = (tmp_path / f"{name}-redis-url").read_text()
        assert url.startswith(f"redis://p.{name}:") and url.endswith("@saga-redis:6379/0")
        logins[f"p.{name}"] = acl.password_hash(url.split(":")[2].split("@")[0])
    admin = (tmp_path / "redis-password").read_text()
    assert acl_file[:2] == [
        "user default reset",
        f"user admin on {acl.password_hash(admin)} ~* &* +@all",
    ]
    assert acl_file[2:] == acl.acl_lines("p.", DEAD, logins)


def test_event_keys_files_wire_each_service_to_its_producers(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["event-keys", "files", str(tmp_path)])
    assert result.exit_code == 0, result.output
    signers = {
        s: load_signing_key((tmp_path / f"{s}-event-signing-key").read_text()) for s in SERVICES
    }
    billing = Verifier.from_setting((tmp_path / "billing-event-verify-keys").read_text())
    assert sorted(billing.keys) == ["booking", "manager", "payment"]  # + reconcile requests
    assert billing.problem("payment", b"m", signers["payment"].sign(b"m")) is None
    operator = Verifier.from_setting((tmp_path / "operator-event-verify-keys").read_text())
    assert sorted(operator.keys) == sorted(SERVICES)
