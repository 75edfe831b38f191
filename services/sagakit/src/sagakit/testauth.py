"""Test helpers for bearer tokens: a real OIDC issuer on a local port, and the access matrix.

`LocalIssuer` serves OIDC discovery and a JWKS over HTTP (uvicorn, in the test's event
loop) for RSA and EC keys generated here, signs tokens with them, rotates them and
counts how often its JWKS was fetched: the services check its tokens exactly as a
Keycloak's. `call_route` and `assert_decision` run one cell of the allowed/denied
matrix that sagakit.access.matrix builds from the access table.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sagakit.devauth import DEFAULT_AUDIENCE
from sagakit.testing import free_ports

if TYPE_CHECKING:
    import httpx

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class LocalIssuer:
    """An OIDC issuer at http://127.0.0.1:<free port> whose keys the test controls."""

    def __init__(self) -> None:
        self.url = f"http://127.0.0.1:{free_ports(1)[0]}"
        self.keys: dict[str, PrivateKey] = {}
        self.requests: Counter[str] = Counter()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    def add_key(self, algorithm: str = "RS256") -> str:
        """Generate and publish a key for RS256 or ES256; returns its kid."""
        kid = f"{algorithm.lower()}-{uuid.uuid4().hex[:8]}"
        if algorithm == "RS256":
            self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            self.keys[kid] = ec.generate_private_key(ec.SECP256R1())
        return kid

    def jwks(self) -> dict[str, Any]:
        """The public halves of the keys, as the JWKS endpoint serves them."""
        return {"keys": [_public_jwk(kid, key) for kid, key in self.keys.items()]}

    def token(
        self,
        subject: str = "alice",
        roles: Iterable[str] | None = ("customer",),
        *,
        kid: str | None = None,
        ttl_seconds: int = 300,
        **claims: Any,
    ) -> str:
        """A token signed with key `kid` (the first key if None); `claims` override, add, or
        remove (a None value); `roles` None: no roles claim."""
        kid = kid or next(iter(self.keys))
        key = self.keys[kid]
        algorithm = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
        now = int(time.time())
        payload: dict[str, Any] = {"iss": self.url, "aud": DEFAULT_AUDIENCE, "sub": subject}
        payload.update(iat=now, nbf=now, exp=now + ttl_seconds)
        if roles is not None:
            payload["roles"] = sorted(set(roles))
        payload.update(claims)
        payload = {name: value for name, value in payload.items() if value is not None}
        return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid})

    async def __aenter__(self) -> LocalIssuer:
        """Serve discovery and JWKS until the block ends."""
        if not self.keys:
            self.add_key("RS256")
        app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery),
                Route("/jwks", self._jwks),
            ]
        )
        port = int(self.url.rsplit(":", 1)[1])
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(), name="local-issuer")
        while not self._server.started:
            if self._task.done():
                await self._task  # raises why it could not start
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *_: object) -> None:
        """Stop serving."""
        assert self._server is not None and self._task is not None
        self._server.should_exit = True
        await self._task

    async def _discovery(self, _: Request) -> JSONResponse:
        self.requests["discovery"] += 1
        return JSONResponse({"issuer": self.url, "jwks_uri": f"{self.url}/jwks"})

    async def _jwks(self, _: Request) -> JSONResponse:
        self.requests["jwks"] += 1
        return JSONResponse(self.jwks())


def _public_jwk(kid: str, key: PrivateKey) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}
    jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": "ES256", "use": "sig"}


async def call_route(
    client: httpx.AsyncClient, route: str, subject: str, body: Any = None
) -> httpx.Response:
    """Call "METHOD /path" with new ids in its parameters ({customer_id}: the subject's)."""
    method, template = route.split(" ", 1)
    path = re.sub(
        r"\{[a-z_]+\}", lambda _: str(uuid.uuid4()), template.replace("{customer_id}", subject)
    )
    return await client.request(method, path, json=body)


def assert_decision(response: httpx.Response, role: str | None, allowed: bool) -> None:
    """Allowed: anything but 401/403. Denied: 401 without a token, 403 with one."""
    where = f"{response.request.method} {response.request.url.path} as {role}"
    if allowed:
        assert response.status_code not in (401, 403), f"{where}: {response.text}"
        return
    assert response.status_code == (401 if role is None else 403), f"{where}: {response.text}"
    assert response.headers["www-authenticate"].startswith("Bearer "), where
    assert isinstance(response.json()["detail"], str), where
