"""sagactl acts as the role table says, signs with the dev key, or says what is missing."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import jwt
import pytest
from typer.testing import CliRunner

from sagactl import auth, devstack
from sagactl.main import app
from sagakit import devauth

runner = CliRunner()


def sagactl(*args: str) -> Any:
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def who(services: Any) -> list[tuple[str, str, str, tuple[str, ...]]]:
    return [(c.method, c.path, c.subject, c.roles) for c in services.calls]


def test_each_command_acts_as_the_role_table_says(services: Any) -> None:
    assert sagactl("credit", "alice", "500").exit_code == 0
    booked = sagactl("book", "alice", "120")
    assert booked.exit_code == 0, booked.output
    booking_id = next(iter(services.bookings))
    paid = sagactl("pay", booking_id)
    assert paid.exit_code == 0, paid.output
    assert "paid" in paid.output
    assert who(services) == [
        ("PUT", "/customers/alice/credit", "admin", ("admin",)),
        ("POST", "/bookings", "alice", ("customer",)),
        ("GET", f"/bookings/{booking_id}", "admin", ("admin",)),  # whose booking is it?
        ("POST", "/payments", "alice", ("customer",)),
    ]
    assert services.refused == []


def test_status_reads_as_admin_and_decisions_are_the_managers(services: Any) -> None:
    services.auto_approve = False
    sagactl("credit", "bob", "50")
    sagactl("book", "bob", "20")
    booking_id = next(iter(services.bookings))
    services.calls.clear()
    assert sagactl("approve", booking_id).exit_code == 0
    shown = sagactl("status", booking_id)
    assert shown.exit_code == 0, shown.output
    assert "approval approved" in shown.output
    assert who(services)[0] == ("POST", f"/approvals/{booking_id}/approve", "manager", ("manager",))
    assert {(subject, roles) for _, _, subject, roles in who(services)[1:]} == {
        ("admin", ("admin",))
    }


def test_as_replaces_the_identity_and_a_refusal_says_why(services: Any) -> None:
    refused = sagactl("--as", "manager", "credit", "alice", "500")
    assert refused.exit_code == 1
    assert "403" in refused.output and "--as" in refused.output
    assert services.refused == [("PUT", "/customers/alice/credit", 403)]
    assert sagactl("--as", "alice", "book", "alice", "10").exit_code == 0
    assert sagactl("--as", "mallory", "book", "alice", "10").exit_code == 1
    assert who(services) == [("POST", "/bookings", "alice", ("customer",))]


def test_saga_as_in_the_environment_works_like_the_option(services: Any) -> None:
    result = runner.invoke(app, ["credit", "alice", "5"], env={"SAGA_AS": "alice"})
    assert result.exit_code == 1
    assert services.refused == [("PUT", "/customers/alice/credit", 403)]


def test_a_ready_token_is_sent_as_it_is(services: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    token = devauth.issue(services.key, "carol", ["customer"])
    monkeypatch.setenv("SAGA_TOKEN", token)
    monkeypatch.setenv("SAGA_DEV_KEY_FILE", "/nonexistent/key.pem")
    assert sagactl("book", "carol", "30").exit_code == 0
    assert sagactl("credit", "carol", "30").exit_code == 1  # the token says customer
    assert who(services) == [("POST", "/bookings", "carol", ("customer",))]
    monkeypatch.setenv("SAGA_TOKEN", "not-a-token")
    rejected = sagactl("book", "carol", "30")
    assert rejected.exit_code == 1 and "401" in rejected.output


def test_without_key_or_token_it_says_what_to_set(
    services: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SAGA_DEV_KEY_FILE", str(tmp_path / "missing.pem"))
    result = sagactl("credit", "alice", "5")
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert f"no dev signing key at {tmp_path / 'missing.pem'}" in text
    assert "SAGA_DEV_KEY_FILE" in text and "SAGA_TOKEN" in text and "sagactl up" in text
    assert services.calls == [] and services.refused == []


def test_a_key_file_of_another_kind_is_named(
    services: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    monkeypatch.setenv("SAGA_DEV_KEY_FILE", str(bad))
    result = sagactl("status", "6f1c1d9e-8c1b-4a53-9d3e-2f4b6a7c8d90")
    assert result.exit_code == 2
    assert "is not a usable dev signing key" in " ".join(result.output.split())


def test_the_demo_credits_as_admin_books_and_pays_as_the_customer(services: Any) -> None:
    result = sagactl("demo", "--timeout", "10")
    assert result.exit_code == 0, result.output
    assert "Both sagas ended as expected." in result.output
    credits = [c for c in services.calls if c.method == "PUT"]
    assert {(c.subject, c.roles) for c in credits} == {("admin", ("admin",))}
    customers = {c.path.split("/")[2] for c in credits}
    for method, path in (("POST", "/bookings"), ("POST", "/payments")):
        made = [c for c in services.calls if (c.method, c.path) == (method, path)]
        assert {c.subject for c in made} == customers
        assert {c.roles for c in made} == {("customer",)}
    reads = {(c.subject, c.roles) for c in services.calls if c.method == "GET"}
    assert reads == {("admin", ("admin",))}
    assert services.refused == []


def test_the_demo_approves_as_the_manager_in_manual_mode(services: Any) -> None:
    services.auto_approve = False
    result = sagactl("demo", "--timeout", "10")
    assert result.exit_code == 0, result.output
    decisions = [c for c in services.calls if "/approvals/" in c.path and c.method == "POST"]
    assert len(decisions) == 2
    assert {(c.subject, c.roles) for c in decisions} == {("manager", ("manager",))}


def test_the_demo_needs_the_dev_key_and_chooses_its_identities(
    services: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sagactl("--as", "alice", "demo").exit_code == 2
    monkeypatch.setenv("SAGA_TOKEN", devauth.issue(services.key, "admin", ["admin"]))
    monkeypatch.setenv("SAGA_DEV_KEY_FILE", "/nonexistent/key.pem")
    result = sagactl("demo")
    assert result.exit_code == 2
    assert "it needs the dev key" in " ".join(result.output.split())
    assert services.calls == []


def test_token_prints_a_token_for_the_identity(dev_key: Path) -> None:
    result = sagactl("--as", "alice", "token")
    assert result.exit_code == 0, result.output
    key = devauth.load_key(dev_key)
    claims = jwt.decode(
        result.output.strip(), key.public_key(), algorithms=["ES256"], audience="saga"
    )
    assert (claims["sub"], claims["roles"], claims["iss"]) == (
        "alice",
        ["customer"],
        "urn:saga:dev",
    )
    assert claims["exp"] - claims["iat"] == auth.DEFAULT_TTL_SECONDS


def test_tokens_are_signed_once_per_identity_until_close_to_expiry(
    dev_key: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(auth.time, "monotonic", lambda: now[0])
    tokens = auth.DevTokens.from_file(dev_key, ttl_seconds=600)
    first = tokens.token("alice")
    assert tokens.token("alice") is first
    assert tokens.token("bob") != first
    now[0] += 500  # 100 s left: still good
    assert tokens.token("alice") is first
    now[0] += 50  # 50 s left, less than a tenth of the lifetime: a fresh one
    assert tokens.token("alice") is not first


def test_up_makes_an_owner_only_key_and_hands_its_absolute_path_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    key = devstack.dev_key(auth.DEFAULT_KEY_FILE)
    assert key == tmp_path / ".local" / "auth" / "dev-signing-key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert devstack.dev_auth_env(Path(".local/auth/dev-signing-key.pem")) == {
        "AUTH_MODE": "dev",
        "AUTH_DEV_KEY_FILE": str(key),
    }
    assert devstack.dev_key(auth.DEFAULT_KEY_FILE).read_bytes() == key.read_bytes()


@pytest.mark.parametrize(
    ("name", "roles"),
    [("admin", ("admin",)), ("manager", ("manager",)), ("alice", ("customer",))],
)
def test_a_name_stands_for_its_roles(name: str, roles: tuple[str, ...]) -> None:
    assert auth.roles_of(name) == roles


def test_reconcile_asks_booking_as_admin_for_one_saga_or_every_stuck_one(services: Any) -> None:
    assert sagactl("book", "alice", "120").exit_code == 0
    booking_id = next(iter(services.bookings))
    services.calls.clear()

    one = sagactl("reconcile", booking_id)
    assert one.exit_code == 0, one.output
    assert "about 1 sagas" in one.output and booking_id in one.output
    stuck = sagactl("reconcile", "--stuck")
    assert stuck.exit_code == 0, stuck.output
    assert booking_id in stuck.output  # approved, waiting: the fake calls it stuck
    assert who(services) == [
        ("POST", f"/bookings/{booking_id}/reconcile", "admin", ("admin",)),
        ("POST", "/bookings/reconcile", "admin", ("admin",)),
    ]
    assert sagactl("reconcile").exit_code == 2  # neither
    assert sagactl("reconcile", booking_id, "--stuck").exit_code == 2  # both
