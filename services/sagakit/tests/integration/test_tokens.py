"""Bearer tokens checked against a real OIDC issuer: discovery and JWKS served over HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sagakit.auth import InvalidToken, TokenVerifier
from sagakit.jwks import MAX_AGE_SECONDS, MIN_INTERVAL_SECONDS, KeysUnavailable, RemoteKeys
from sagakit.testauth import LocalIssuer
from sagakit.testing import free_ports


class Clock:
    """The keys' monotonic clock, moved by the test instead of by waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def issuer() -> AsyncIterator[LocalIssuer]:
    local = LocalIssuer()
    local.add_key("RS256")
    local.add_key("ES256")
    async with local:
        yield local


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def verifier(issuer: LocalIssuer, clock: Clock) -> AsyncIterator[TokenVerifier]:
    checker = TokenVerifier(RemoteKeys(issuer.url, clock=clock), issuer.url, "saga", "roles")
    yield checker
    await checker.aclose()


def b64(data: dict[str, object]) -> str:
    return jwt.utils.base64url_encode(json.dumps(data).encode()).decode()


def unsigned(issuer: LocalIssuer, kid: str) -> str:
    """alg none: no signature at all."""
    claims = jwt.decode(issuer.token(kid=kid), options={"verify_signature": False})
    return f"{b64({'alg': 'none', 'kid': kid})}.{b64(claims)}."


def hmac_with_public_key(issuer: LocalIssuer, kid: str) -> str:
    """HS256 keyed with the issuer's public key: the classic algorithm confusion."""
    claims = jwt.decode(issuer.token(kid=kid), options={"verify_signature": False})
    public = (
        issuer.keys[kid]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    signing_input = f"{b64({'alg': 'HS256', 'kid': kid, 'typ': 'JWT'})}.{b64(claims)}"
    signature = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{jwt.utils.base64url_encode(signature).decode()}"


def tampered(issuer: LocalIssuer, kid: str) -> str:
    """A customer's token whose payload now says admin, under the original signature."""
    token = issuer.token("alice", ["customer"], kid=kid)
    header, _, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    return f"{header}.{b64({**claims, 'roles': ['admin']})}.{signature}"


def foreign_key(_: LocalIssuer, kid: str) -> str:
    """Signed by a key the issuer never published, under a key id it did publish."""
    now = int(time.time())
    claims = {"iss": "x", "aud": "saga", "sub": "alice", "exp": now + 60, "roles": []}
    return jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), "ES256", {"kid": kid})


def reheaded(issuer: LocalIssuer, signer: str, **header: object) -> str:
    """A token signed by `signer` under a header changed as given (None removes a member)."""
    token = issuer.token(kid=signer)
    changed = {**jwt.get_unverified_header(token), **header}
    _, payload, signature = token.split(".")
    return f"{b64({k: v for k, v in changed.items() if v is not None})}.{payload}.{signature}"


def other_algorithm(issuer: LocalIssuer, kid: str) -> str:
    """The header names the other allowed algorithm than the key's (RS256 <-> ES256)."""
    token = issuer.token(kid=kid)
    other = "ES256" if jwt.get_unverified_header(token)["alg"] == "RS256" else "RS256"
    _, payload, signature = token.split(".")
    return f"{b64({'alg': other, 'kid': kid})}.{payload}.{signature}"


# case: (the token, what the refusal says)
BAD: dict[str, tuple[Callable[[LocalIssuer, str], str], str]] = {
    "expired": (lambda i, kid: i.token(kid=kid, ttl_seconds=-120), "expired"),
    "valid only later": (lambda i, kid: i.token(kid=kid, nbf=int(time.time()) + 120), "nbf"),
    "foreign issuer": (lambda i, kid: i.token(kid=kid, iss="https://evil.example"), "iss"),
    "wrong audience": (lambda i, kid: i.token(kid=kid, aud="someone-else"), "aud"),
    "no roles claim": (lambda i, kid: i.token(kid=kid, roles=None), "no list of roles"),
    "no subject": (lambda i, kid: i.token(kid=kid, sub=None), "no sub claim"),
    "no expiry": (lambda i, kid: i.token(kid=kid, exp=None), "no exp claim"),
    "alg none": (unsigned, "algorithm is not one of ES256, RS256"),
    "HS256 keyed with the public key": (hmac_with_public_key, "algorithm is not one of"),
    "tampered payload": (tampered, "signature"),
    "signed by a foreign key": (foreign_key, "signature"),
    "algorithm other than the key's": (other_algorithm, "signature"),
    "unknown kid": (lambda i, _: _unpublished(i), "signing key (kid)"),
    "not a JWT": (lambda i, kid: "garbage", "not a JWT"),
    "algorithm a list": (lambda i, kid: reheaded(i, kid, alg=["RS256"]), "algorithm is not"),
    "kid a number": (lambda i, kid: reheaded(i, kid, kid=5), "not a JWT"),
    "no kid": (lambda i, kid: reheaded(i, kid, kid=None), "names no signing key"),
    "issued in the future": (lambda i, kid: i.token(kid=kid, iat=int(time.time()) + 600), "iat"),
}


def _unpublished(issuer: LocalIssuer) -> str:
    kid = issuer.add_key("ES256")
    token = issuer.token(kid=kid)
    del issuer.keys[kid]  # never published
    return token


@pytest.mark.parametrize("case", BAD, ids=str)
async def test_a_bad_token_is_refused_saying_why(
    issuer: LocalIssuer, verifier: TokenVerifier, case: str
) -> None:
    make, reason = BAD[case]
    for kid in list(issuer.keys):  # an RS256 and an ES256 key
        token = make(issuer, kid)
        with pytest.raises(InvalidToken, match=re.escape(reason)) as refused:
            await verifier.verify(token)
        assert token not in str(refused.value)


async def test_rs256_and_es256_tokens_of_the_issuer_are_accepted(
    issuer: LocalIssuer, verifier: TokenVerifier
) -> None:
    for kid in issuer.keys:
        principal = await verifier.verify(issuer.token("alice", ["customer", "admin"], kid=kid))
        assert principal.subject == "alice"
        assert principal.roles == {"customer", "admin"}
    assert issuer.requests == {"discovery": 1, "jwks": 1}


async def test_roles_are_read_at_a_dotted_claim(issuer: LocalIssuer, clock: Clock) -> None:
    keycloak = TokenVerifier(
        RemoteKeys(issuer.url, clock=clock), issuer.url, "saga", "realm_access.roles"
    )
    token = issuer.token(roles=None, realm_access={"roles": ["manager"]})
    assert (await keycloak.verify(token)).roles == {"manager"}
    top_level = issuer.token(roles=["manager"])
    not_a_list = issuer.token(roles=None, realm_access={"roles": "manager"})
    for wrong in (top_level, not_a_list):
        with pytest.raises(InvalidToken, match=r"no list of roles at realm_access\.roles"):
            await keycloak.verify(wrong)
    await keycloak.aclose()


async def test_a_rotated_key_is_picked_up_and_a_withdrawn_one_dropped(
    issuer: LocalIssuer, verifier: TokenVerifier, clock: Clock
) -> None:
    old = next(iter(issuer.keys))
    await verifier.verify(issuer.token(kid=old))
    new = issuer.add_key("RS256")  # the issuer rotates: a new key signs from now on
    with pytest.raises(InvalidToken, match="kid"):  # fetched moments ago: not again yet
        await verifier.verify(issuer.token(kid=new))
    clock.now += MIN_INTERVAL_SECONDS
    assert (await verifier.verify(issuer.token(kid=new))).subject == "alice"
    assert issuer.requests["jwks"] == 2
    signed_by_old = issuer.token(kid=old)
    del issuer.keys[old]  # and later withdraws the old one
    await verifier.verify(signed_by_old)  # still cached
    clock.now += MAX_AGE_SECONDS + 1
    with pytest.raises(InvalidToken, match="kid"):
        await verifier.verify(signed_by_old)
    assert issuer.requests["jwks"] == 3


async def test_a_flood_of_unknown_key_ids_fetches_once_per_interval(
    issuer: LocalIssuer, verifier: TokenVerifier, clock: Clock
) -> None:
    forged = [foreign_key(issuer, f"forged-{uuid.uuid4().hex}") for _ in range(100)]
    outcomes = await asyncio.gather(
        *(verifier.verify(token) for token in forged), return_exceptions=True
    )
    assert all(isinstance(outcome, InvalidToken) for outcome in outcomes)
    assert issuer.requests["jwks"] == 1  # concurrent requests shared one fetch
    for token in forged:
        with pytest.raises(InvalidToken):
            await verifier.verify(token)
    assert issuer.requests["jwks"] == 1
    clock.now += MIN_INTERVAL_SECONDS
    for token in forged:
        with pytest.raises(InvalidToken):
            await verifier.verify(token)
    assert issuer.requests["jwks"] == 2


async def test_a_configured_jwks_url_needs_no_discovery(issuer: LocalIssuer) -> None:
    keys = RemoteKeys(issuer.url, f"{issuer.url}/jwks")
    assert await keys.key(next(iter(issuer.keys))) is not None
    assert issuer.requests == {"jwks": 1}
    await keys.aclose()


async def test_an_unreachable_issuer_makes_tokens_uncheckable_not_invalid(clock: Clock) -> None:
    url = f"http://127.0.0.1:{free_ports(1)[0]}"
    verifier = TokenVerifier(RemoteKeys(url, clock=clock), url, "saga", "roles")
    token = _any_token(url)
    with pytest.raises(KeysUnavailable, match="could not be fetched"):
        await verifier.verify(token)
    with pytest.raises(KeysUnavailable):  # within the interval: no new attempt, same answer
        await verifier.verify(token)
    await verifier.aclose()


def _any_token(issuer_url: str) -> str:
    local = LocalIssuer()
    local.url = issuer_url
    local.add_key("ES256")
    return local.token()


async def test_a_discovery_document_of_another_issuer_is_refused(issuer: LocalIssuer) -> None:
    keys = RemoteKeys(f"{issuer.url}/")  # a trailing slash: not the issuer's identifier
    with pytest.raises(KeysUnavailable, match="must be identical"):
        await keys.key("any")
    await keys.aclose()
