"""Bearer tokens: who is calling, as a verified JWT from an OIDC issuer says.

A token is accepted when its signature verifies with one of the issuer's keys (named by
the header's `kid`, algorithm RS256 or ES256 and the key's own), it is not expired
(`exp`, and `nbf` when present, with `LEEWAY_SECONDS` of clock skew), its `iss` is the
configured issuer, its `aud` contains the configured audience, and it has a subject
and a roles list at AUTH_ROLES_CLAIM. docs/security.md, "Tokens", tells the rest.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any

import jwt
from jwt import PyJWK

from sagakit import devauth
from sagakit.jwks import ALGORITHMS, KeySource, RemoteKeys, StaticKeys
from sagakit.settings import AuthMode, ServiceSettings

log = logging.getLogger(__name__)

LEEWAY_SECONDS = 30
# Larger than any issuer's token with a few hundred roles; bounds the work per request.
MAX_TOKEN_CHARS = 16_384
# `nbf` is checked when present, not required: Keycloak and Dex do not put it in tokens.
REQUIRED_CLAIMS = ["exp", "iss", "aud", "sub"]
# A client sends one token many times: verified tokens are remembered (by digest) until
# they expire or their key leaves the issuer's set, instead of checking each signature.
CACHED_TOKENS = 4096


@dataclass(frozen=True)
class Principal:
    """The caller a valid token names: its subject (a customer's id) and its roles."""

    subject: str
    roles: frozenset[str]


class InvalidToken(ValueError):
    """The token is not acceptable; the message says why without repeating the token."""


class AuthConfigError(RuntimeError):
    """The AUTH_* settings cannot work: the service refuses to start, saying which."""


class TokenVerifier:
    """Checks bearer tokens against the issuer's keys, issuer, audience and roles claim."""

    def __init__(self, keys: KeySource, issuer: str, audience: str, roles_claim: str) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.roles_claim = roles_claim
        # digest -> (valid until, kid, key, principal)
        self._verified: OrderedDict[bytes, tuple[float, str, PyJWK, Principal]] = OrderedDict()

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token; raises InvalidToken (or jwks.KeysUnavailable)."""
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken("the token is too long")
        if not token.isascii():  # a JWT is base64url and dots
            raise InvalidToken("the token is not a JWT")
        digest = sha256(token.encode()).digest()
        if (remembered := await self._remembered(digest)) is not None:
            return remembered
        kid, key = await self._key(token)
        claims = self._claims(token, key)
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise InvalidToken("the token's subject (sub) is not a string")
        principal = Principal(subject=subject, roles=self._roles(claims))
        self._verified[digest] = (float(claims["exp"]) + LEEWAY_SECONDS, kid, key, principal)
        if len(self._verified) > CACHED_TOKENS:
            self._verified.popitem(last=False)
        return principal

    async def _remembered(self, digest: bytes) -> Principal | None:
        entry = self._verified.get(digest)
        if entry is None:
            return None
        until, kid, key, principal = entry
        # The key must still be the issuer's: a withdrawn key ends its tokens here too.
        if time.time() >= until or await self.keys.key(kid) is not key:
            self._verified.pop(digest, None)
            return None
        if digest in self._verified:  # another request may have dropped it meanwhile
            self._verified.move_to_end(digest)
        return principal

    async def aclose(self) -> None:
        """Release the key source's connections."""
        await self.keys.aclose()

    async def _key(self, token: str) -> tuple[str, PyJWK]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("the token is not a JWT") from exc
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
            raise InvalidToken(
                f"the token's algorithm is not one of {', '.join(sorted(ALGORITHMS))}"
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("the token names no signing key (kid)")
        key = await self.keys.key(kid)
        if key is None:
            raise InvalidToken("the token's signing key (kid) is not one of the issuer's keys")
        return kid, key

    def _claims(self, token: str, key: PyJWK) -> dict[str, Any]:
        try:
            # A PyJWK binds its own algorithm: a header naming another one is refused.
            return jwt.decode(
                token,
                key,
                algorithms=sorted(ALGORITHMS),
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("the token has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise InvalidToken("the token is not valid yet (nbf or iat)") from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidToken("the token is not meant for this audience (aud)") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidToken("the token comes from another issuer (iss)") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"the token has no {exc.claim} claim") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken("the token's signature or claims are invalid") from exc

    def _roles(self, claims: dict[str, Any]) -> frozenset[str]:
        value: Any = claims
        for part in self.roles_claim.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if not isinstance(value, list) or not all(isinstance(role, str) for role in value):
            raise InvalidToken(f"the token has no list of roles at {self.roles_claim}")
        return frozenset(value)


def build_verifier(settings: ServiceSettings) -> TokenVerifier:
    """The verifier the settings describe; raises AuthConfigError saying what is missing."""
    audience, claim = settings.auth_audience, settings.auth_roles_claim
    mode = AuthMode(settings.auth_mode)  # a model_copy(update=...) may hold a plain string
    keys: KeySource
    if mode is AuthMode.DEV:
        keys, issuer = _dev_keys(settings.auth_dev_key_file), devauth.DEV_ISSUER
    else:
        keys, issuer = (
            _oidc_keys(settings.auth_issuer, settings.auth_jwks_url),
            settings.auth_issuer,
        )
    log.info(
        "bearer tokens: %s, issuer %s, audience %s, roles at %s", mode, issuer, audience, claim
    )
    return TokenVerifier(keys, issuer, audience, claim)


def _oidc_keys(issuer: str, jwks_url: str) -> RemoteKeys:
    if not issuer:
        raise AuthConfigError(
            "AUTH_MODE=oidc (the default) needs AUTH_ISSUER, the URL of the OIDC issuer "
            "whose tokens the service accepts (e.g. https://keycloak.example.com/realms/saga); "
            "for a local run use AUTH_MODE=dev with AUTH_DEV_KEY_FILE (`sagactl up` does)"
        )
    if not jwks_url and not issuer.startswith(("https://", "http://")):
        raise AuthConfigError(
            f"AUTH_ISSUER {issuer!r} is not an http(s) URL, so its keys cannot be "
            "discovered: set AUTH_JWKS_URL"
        )
    return RemoteKeys(issuer, jwks_url)


def _dev_keys(path: str) -> StaticKeys:
    if not path:
        raise AuthConfigError(
            "AUTH_MODE=dev needs AUTH_DEV_KEY_FILE, the PEM of the local signing key "
            "(`sagactl up` creates one with sagakit.devauth.ensure_key)"
        )
    try:
        jwk = devauth.public_jwk(devauth.load_key(Path(path)))
    except (OSError, ValueError, TypeError) as exc:  # TypeError: a password-protected key
        raise AuthConfigError(f"AUTH_DEV_KEY_FILE={path}: {exc}") from exc
    return StaticKeys({jwk["kid"]: PyJWK(jwk)})
