"""Development tokens (AUTH_MODE=dev): a local ES256 key signs them, the services verify them.

`sagactl up` creates the key (`ensure_key`) and hands its path to the services
(`AUTH_DEV_KEY_FILE`); `sagactl`, the tests and the benchmark sign tokens with it
(`issue`). The services check these tokens exactly like an OIDC issuer's (signature,
`iss`, `aud`, `exp`, roles); only where the public key comes from differs. Never for a
deployment anyone else can reach: whoever reads the key file can be anyone.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from hashlib import sha256
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

DEV_ISSUER = "urn:saga:dev"
DEFAULT_AUDIENCE = "saga"
ROLES = ("customer", "manager", "admin")
DEFAULT_TTL_SECONDS = 3600


def ensure_key(path: Path) -> Path:
    """Create a P-256 private key at `path` (readable by its owner only) unless one is there."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(pem)
    return path


def load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The private key in a PEM file (PKCS#8 or SEC1, as Helm's genPrivateKey writes)."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError(f"{path}: not a P-256 (ES256) private key")
    return key


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    """The public half as a JWK with its RFC 7638 thumbprint as `kid`."""
    jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=_thumbprint(jwk), alg="ES256", use="sig")
    return jwk


def issue(
    key: ec.EllipticCurvePrivateKey,
    subject: str,
    roles: Iterable[str],
    *,
    audience: str = DEFAULT_AUDIENCE,
    issuer: str = DEV_ISSUER,
    roles_claim: str = "roles",
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
) -> str:
    """A signed bearer token for `subject` with `roles` (put at the dotted `roles_claim`)."""
    now = int(time.time())
    claims: dict[str, Any] = {"iss": issuer, "aud": audience, "sub": subject}
    claims.update(iat=now, nbf=now, exp=now + ttl_seconds)
    _put(claims, roles_claim.split("."), sorted(set(roles)))
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": public_jwk(key)["kid"]})


def _put(claims: dict[str, Any], path: list[str], value: Any) -> None:
    # "realm_access.roles" (Keycloak's realm roles) nests the list one level down.
    for part in path[:-1]:
        claims = claims.setdefault(part, {})
    claims[path[-1]] = value


def _thumbprint(jwk: dict[str, Any]) -> str:
    members = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return jwt.utils.base64url_encode(sha256(canonical).digest()).decode()
