"""The access table, deny by default, and the settings tokens are checked with."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, Depends, FastAPI

from sagakit import devauth
from sagakit.access import ADMIN, CUSTOMER, MANAGER, ROLES, RULES, Scope, matrix, scope_of
from sagakit.auth import (
    LEEWAY_SECONDS,
    AuthConfigError,
    InvalidToken,
    Principal,
    build_verifier,
)
from sagakit.authz import Access, authorize, check_routes, unauthorized
from sagakit.runtime import ServiceRuntime
from sagakit.settings import ServiceSettings
from sagakit.web import create_service_app


def test_the_roles_of_the_table_are_the_roles_dev_tokens_carry() -> None:
    assert ROLES == devauth.ROLES
    for rules in RULES.values():
        for rule in rules.values():
            assert set(rule) <= set(ROLES)


def test_the_widest_scope_of_a_token_s_roles_wins() -> None:
    rule = {CUSTOMER: Scope.OWN, ADMIN: Scope.ALL}
    assert scope_of(rule, frozenset({CUSTOMER})) is Scope.OWN
    assert scope_of(rule, frozenset({CUSTOMER, ADMIN})) is Scope.ALL
    assert scope_of(rule, frozenset({MANAGER})) is None
    assert scope_of(rule, frozenset()) is None


def test_the_matrix_has_every_route_with_every_role_and_no_token() -> None:
    cells = matrix("payment")
    assert len(cells) == len(RULES["payment"]) * 4
    assert ("POST /payments", None, False) in cells
    assert ("POST /payments", CUSTOMER, True) in cells
    assert ("POST /payments", ADMIN, False) in cells


def _app(*, guarded: tuple[str, ...], open_paths: tuple[str, ...] = ()) -> FastAPI:
    router = APIRouter()
    for path in guarded:
        router.add_api_route(path, _endpoint, methods=["GET"])
    app = FastAPI()
    app.include_router(router, dependencies=[Depends(authorize)])
    for path in open_paths:
        app.add_api_route(path, _endpoint, methods=["GET"])
    return app


async def _endpoint() -> None:
    """A route for the tests."""


def test_an_app_whose_routes_all_have_rules_passes() -> None:
    app = _app(guarded=("/things", "/things/{id}"), open_paths=("/healthz",))
    check_routes(app, {"GET /things": {ADMIN: Scope.ALL}, "GET /things/{id}": {}})


def test_a_new_route_without_a_rule_is_refused() -> None:
    app = _app(guarded=("/things", "/new"))
    with pytest.raises(RuntimeError, match=r"GET /new: no rule in sagakit.access.RULES"):
        check_routes(app, {"GET /things": {ADMIN: Scope.ALL}})


def test_a_route_served_without_authorization_is_refused() -> None:
    app = _app(guarded=("/things",), open_paths=("/debug",))
    with pytest.raises(RuntimeError, match=r"/debug: served without authorization"):
        check_routes(app, {"GET /things": {ADMIN: Scope.ALL}})


def test_a_rule_without_its_route_is_refused() -> None:
    app = _app(guarded=("/things",))
    with pytest.raises(RuntimeError, match=r"GET /gone: a rule for no route"):
        check_routes(app, {"GET /things": {ADMIN: Scope.ALL}, "GET /gone": {ADMIN: Scope.ALL}})


def test_a_service_app_with_a_route_the_table_lacks_does_not_build(dev_settings) -> None:
    router = APIRouter()
    router.add_api_route("/bookings", _endpoint, methods=["GET"])
    router.add_api_route("/bookings/export", _endpoint, methods=["GET"])
    with pytest.raises(RuntimeError, match=r"GET /bookings/export: no rule"):
        create_service_app(
            service_name="booking",
            title="Booking",
            description="",
            version="0",
            settings=dev_settings,
            runtime_factory=_no_runtime,
            routers=[router],
        )


def _no_runtime() -> ServiceRuntime:
    raise AssertionError("the app is never started here")


@pytest.fixture
def dev_settings(tmp_path: Path) -> ServiceSettings:
    key = devauth.ensure_key(tmp_path / "dev.pem")
    return ServiceSettings(auth_mode="dev", auth_dev_key_file=str(key))


def test_oidc_without_an_issuer_refuses_to_start_saying_what_to_set() -> None:
    with pytest.raises(AuthConfigError, match="needs AUTH_ISSUER"):
        build_verifier(ServiceSettings())
    with pytest.raises(AuthConfigError, match="set AUTH_JWKS_URL"):
        build_verifier(ServiceSettings(auth_issuer="urn:example"))


def test_dev_mode_without_a_usable_key_file_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(AuthConfigError, match="needs AUTH_DEV_KEY_FILE"):
        build_verifier(ServiceSettings(auth_mode="dev"))
    missing = tmp_path / "missing.pem"
    with pytest.raises(AuthConfigError, match=f"AUTH_DEV_KEY_FILE={missing}"):
        build_verifier(ServiceSettings(auth_mode="dev", auth_dev_key_file=str(missing)))
    rsa_key = tmp_path / "rsa.pem"
    rsa_key.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(AuthConfigError, match="not a P-256"):
        build_verifier(ServiceSettings(auth_mode="dev", auth_dev_key_file=str(rsa_key)))


async def test_dev_tokens_are_checked_like_any_issuer_s(
    dev_settings: ServiceSettings, tmp_path: Path
) -> None:
    verifier = build_verifier(dev_settings)
    key = devauth.load_key(Path(dev_settings.auth_dev_key_file))
    principal = await verifier.verify(devauth.issue(key, "alice", ["customer"]))
    assert principal.subject == "alice" and principal.roles == {"customer"}
    with pytest.raises(InvalidToken, match="expired"):
        await verifier.verify(devauth.issue(key, "alice", ["customer"], ttl_seconds=-60))
    with pytest.raises(InvalidToken, match="iss"):
        await verifier.verify(devauth.issue(key, "alice", [], issuer="https://elsewhere"))
    other = devauth.load_key(devauth.ensure_key(tmp_path / "someone-else.pem"))
    with pytest.raises(InvalidToken, match="kid"):
        await verifier.verify(devauth.issue(other, "alice", ["admin"]))


async def test_a_verified_token_is_remembered_until_it_expires(
    dev_settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = build_verifier(dev_settings)
    key = devauth.load_key(Path(dev_settings.auth_dev_key_file))
    token = devauth.issue(key, "alice", ["customer"], ttl_seconds=60)
    first = await verifier.verify(token)

    def decode_again(*_: object, **__: object) -> None:
        raise AssertionError("decoded again")

    monkeypatch.setattr(jwt, "decode", decode_again)
    assert await verifier.verify(token) == first  # remembered: no second signature check
    with pytest.raises(AssertionError, match="decoded again"):  # another token is checked
        await verifier.verify(devauth.issue(key, "bob", ["customer"]))
    later = time.time() + 60 + LEEWAY_SECONDS
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(AssertionError, match="decoded again"):  # expired: checked again
        await verifier.verify(token)


def test_the_refusal_header_never_carries_quotes_or_non_ascii() -> None:
    refusal = unauthorized('bad "claim" \u00e9\r\n')
    assert refusal.headers == {
        "WWW-Authenticate": 'Bearer realm="saga", error="invalid_token", '
        "error_description=\"bad 'claim' '''\""
    }
    assert unauthorized(None).headers == {"WWW-Authenticate": 'Bearer realm="saga"'}


def test_a_customer_is_kept_to_its_own_data() -> None:
    customer = Access(Principal("alice", frozenset({CUSTOMER})), owner="alice")
    assert customer.customers(None) == "alice"
    assert customer.customers("alice") == "alice"
    assert customer.booker(None) == "alice"
    for refused in (lambda: customer.customers("bob"), lambda: customer.booker("bob")):
        with pytest.raises(Exception, match="its own") as raised:
            refused()
        assert getattr(raised.value, "status_code", None) == 403
    staff = Access(Principal("ops", frozenset({ADMIN})), owner=None)
    assert staff.customers(None) is None and staff.customers("bob") == "bob"
    assert staff.booker("bob") == "bob"
