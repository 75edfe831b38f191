"""The running service checks bearer tokens: a real OIDC issuer's, and hostile headers."""

import pytest

from booking.config import Settings
from sagakit.settings import AuthMode
from sagakit.testauth import LocalIssuer
from sagakit.testing import running_app


async def test_tokens_of_an_oidc_issuer_found_by_discovery_are_checked(service, settings) -> None:
    issuer = LocalIssuer()
    issuer.add_key("ES256")
    oidc: Settings = settings.model_copy(
        update={"auth_mode": AuthMode.OIDC, "auth_issuer": issuer.url}
    )
    async with issuer, running_app(service.create_app(oidc)) as client:
        alice = {"Authorization": f"Bearer {issuer.token('alice', ['customer'])}"}
        created = await client.post("/bookings", json={"item": "R", "amount": "1"}, headers=alice)
        assert created.status_code == 201 and created.json()["customer_id"] == "alice"
        expired = issuer.token("alice", ["customer"], ttl_seconds=-120)
        refused = await client.get("/bookings", headers={"Authorization": f"Bearer {expired}"})
        assert refused.status_code == 401
        assert refused.json() == {"detail": "invalid bearer token: the token has expired"}
        assert refused.headers["www-authenticate"] == (
            'Bearer realm="saga", error="invalid_token", error_description="the token has expired"'
        )
        assert issuer.requests == {"discovery": 1, "jwks": 1}


HOSTILE: dict[str, bytes] = {
    "ten kilobytes": b"Bearer " + b"a" * 10_240,
    "garbage": b"Bearer !!!not-a-token!!!",
    "three garbage segments": b"Bearer e30.e30.e30",
    "non-ASCII (latin-1)": "Bearer \u00e9\u00e8\u00ff".encode("latin-1"),
    "non-ASCII (UTF-8)": "Bearer \u4e2d\u6587.\u00e9.x".encode(),
    "header not JSON": b"Bearer bm90IGpzb24.e30.",
    "header a JSON list": b"Bearer WzFd.e30.",
    "scheme only": b"Bearer",
    "empty token": b"Bearer ",
    "another scheme": b"Basic YWxpY2U6c2VjcmV0",
    "NUL byte": b"Bearer a\x00b",
}


@pytest.mark.parametrize("header", HOSTILE, ids=str)
async def test_a_hostile_authorization_header_gets_a_401_never_a_500(client_as, header) -> None:
    anonymous = client_as(None)
    response = await anonymous.get("/bookings", headers={"Authorization": HOSTILE[header]})
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith('Bearer realm="saga"')
    assert "detail" in response.json()


async def test_an_authorization_header_over_the_header_cap_is_a_431(client_as) -> None:
    # Refused with the other headers before any token is read (HTTP_MAX_HEADER_BYTES).
    huge = b"Bearer " + b"." * 100_000
    response = await client_as(None).get("/bookings", headers={"Authorization": huge})
    assert response.status_code == 431, response.text
    assert "headers" in response.json()["detail"]
