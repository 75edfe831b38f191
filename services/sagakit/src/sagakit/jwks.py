"""The keys that sign bearer tokens: an OIDC issuer's JWKS over HTTP, or one local key.

The JWKS is fetched with httpx (never a blocking call on the event loop), cached, and
fetched again when it is older than `MAX_AGE_SECONDS` (keys the issuer withdrew stop
being accepted) or when a token names a key id (`kid`) the cache does not hold: a
rotated key is picked up without a restart. Fetches are at least
`MIN_INTERVAL_SECONDS` apart and concurrent ones are shared, so a flood of tokens with
invented key ids costs the issuer one request per interval, not one per token.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx
from jwt import PyJWK, PyJWTError

log = logging.getLogger(__name__)

# Asymmetric algorithms only: `none` and HS256 (the public key as an HMAC secret) never.
ALGORITHMS = frozenset({"RS256", "ES256"})
MAX_AGE_SECONDS = 300.0
MIN_INTERVAL_SECONDS = 10.0
FETCH_TIMEOUT_SECONDS = 5.0


class KeysUnavailable(RuntimeError):
    """The issuer's keys could not be fetched: no token can be checked (HTTP 503)."""


class KeySource(Protocol):
    """Where the verifier finds the public key a token names."""

    async def key(self, kid: str) -> PyJWK | None:
        """The key with this id, or None when the issuer has no such key."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def signing_keys(jwks: Any) -> dict[str, PyJWK]:
    """The keys of a JWKS document usable for RS256/ES256 signatures, by key id."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ValueError("not a JWKS document (no `keys` list)")
    found: dict[str, PyJWK] = {}
    for data in jwks["keys"]:
        if not isinstance(data, dict) or not isinstance(data.get("kid"), str):
            continue
        if data.get("use", "sig") != "sig":
            continue  # an encryption key never verifies a signature
        try:
            key = PyJWK(data)
        except PyJWTError:
            continue  # a key type this library cannot use: another algorithm's business
        if key.algorithm_name in ALGORITHMS:
            found[data["kid"]] = key
    return found


class StaticKeys:
    """Keys known at start (AUTH_MODE=dev: the public half of the local key)."""

    def __init__(self, keys: dict[str, PyJWK]) -> None:
        self._keys = keys

    async def key(self, kid: str) -> PyJWK | None:
        """The key with this id, if it is one of ours."""
        return self._keys.get(kid)

    async def aclose(self) -> None:
        """Nothing to release."""


class RemoteKeys:
    """An issuer's JWKS over HTTP: discovered, cached, refreshed on an unknown key id."""

    def __init__(
        self,
        issuer: str,
        jwks_url: str = "",
        *,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._issuer = issuer
        self._jwks_url = jwks_url
        self._client = client or httpx.AsyncClient(timeout=FETCH_TIMEOUT_SECONDS)
        self._clock = clock
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempts = 0
        self._attempted_at: float | None = None
        self._error: str | None = None
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> PyJWK | None:
        """The key with this id; fetches the JWKS when due. Raises KeysUnavailable."""
        if self._due(kid):
            await self._refresh(self._attempts)
        if not self._keys and self._error is not None:
            raise KeysUnavailable(self._error)
        return self._keys.get(kid)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()

    def _due(self, kid: str) -> bool:
        if self._attempted_at is None:
            return True
        now = self._clock()
        if now - self._attempted_at < MIN_INTERVAL_SECONDS:
            return False
        expired = self._fetched_at is None or now - self._fetched_at > MAX_AGE_SECONDS
        return expired or kid not in self._keys

    async def _refresh(self, seen: int) -> None:
        async with self._lock:
            if self._attempts != seen:
                return  # another request fetched while this one waited: use its result
            self._attempts += 1
            self._attempted_at = self._clock()
            try:
                keys = signing_keys(await self._get(await self._jwks_location()))
            except (httpx.HTTPError, ValueError) as exc:
                # Keep the keys we have: an issuer outage must not log everyone out.
                self._error = f"the token issuer's keys could not be fetched: {exc}"
                log.warning("%s (keeping %d cached keys)", self._error, len(self._keys))
                return
            added = keys.keys() - self._keys.keys()
            self._keys, self._fetched_at, self._error = keys, self._attempted_at, None
            if added:
                log.info("token keys fetched: %d keys, new key ids: %s", len(keys), sorted(added))

    async def _jwks_location(self) -> str:
        if not self._jwks_url:  # discovered once: the issuer's configuration rarely moves
            url = f"{self._issuer.rstrip('/')}/.well-known/openid-configuration"
            config = await self._get(url)
            if not isinstance(config, dict) or not isinstance(config.get("jwks_uri"), str):
                raise ValueError(f"{url} names no jwks_uri")
            if config.get("issuer") != self._issuer:
                raise ValueError(
                    f"{url} is the configuration of issuer {config.get('issuer')!r}, not of "
                    f"AUTH_ISSUER {self._issuer!r} (they must be identical)"
                )
            self._jwks_url = config["jwks_uri"]
        return self._jwks_url

    async def _get(self, url: str) -> Any:
        response = await self._client.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        return response.json()
