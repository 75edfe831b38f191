"""Who a client acts as: bearer tokens signed with the dev key, or a token you bring.

`admin` and `manager` are those roles; any other name is a customer whose id (the
token's `sub`) is that name. With the dev key (`AUTH_MODE=dev`, SAGA_DEV_KEY_FILE) a
client signs a token for whichever identity an action needs, once per identity and
process. With SAGA_TOKEN (a token from your OIDC issuer) every call carries that token,
whoever it says you are.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric import ec
from pydantic_settings import BaseSettings, SettingsConfigDict

from sagakit import devauth

ADMIN, MANAGER = "admin", "manager"
DEFAULT_KEY_FILE = Path(".local/auth/dev-signing-key.pem")
# Short-lived: a command mints its tokens when it starts; a long run mints them again.
DEFAULT_TTL_SECONDS = 900
HINT = (
    "set SAGA_DEV_KEY_FILE to the services' dev signing key (`sagactl up` creates "
    f"{DEFAULT_KEY_FILE}; a kind cluster's: `make cluster-key`), or SAGA_TOKEN to a "
    "bearer token from your OIDC issuer (docs/security.md)"
)


class NoCredentials(RuntimeError):
    """Neither a dev key nor a token to call the services with."""


def roles_of(identity: str) -> tuple[str, ...]:
    """The roles an identity name stands for: admin, manager, or a customer."""
    return (identity,) if identity in (ADMIN, MANAGER) else ("customer",)


class Tokens(Protocol):
    """Where a client's bearer tokens come from."""

    @property
    def per_identity(self) -> bool:
        """True when a token can be made for any identity (the dev key)."""
        ...

    def token(self, identity: str) -> str:
        """A bearer token for `identity`."""
        ...


class DevTokens:
    """Tokens signed with the dev key: one per identity, made again shortly before it expires."""

    per_identity = True

    def __init__(
        self, key: ec.EllipticCurvePrivateKey, ttl_seconds: int = DEFAULT_TTL_SECONDS
    ) -> None:
        self.key = key
        self.ttl_seconds = ttl_seconds
        self._made: dict[str, tuple[str, float]] = {}

    @classmethod
    def from_file(cls, path: Path, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> DevTokens:
        """Sign with the key in `path`; NoCredentials (saying what to set) if it is unusable."""
        if not path.is_file():
            raise NoCredentials(f"no dev signing key at {path}: {HINT}")
        try:
            return cls(devauth.load_key(path), ttl_seconds)
        except (ValueError, TypeError, OSError) as exc:
            raise NoCredentials(f"{path} is not a usable dev signing key ({exc}): {HINT}") from exc

    def token(self, identity: str) -> str:
        """The identity's token, signed now unless one made earlier is still good for a while."""
        made = self._made.get(identity)
        if made is None or made[1] - time.monotonic() < self.ttl_seconds / 10:
            token = devauth.issue(
                self.key, identity, roles_of(identity), ttl_seconds=self.ttl_seconds
            )
            made = (token, time.monotonic() + self.ttl_seconds)
            self._made[identity] = made
        return made[0]


class StaticToken:
    """One ready token (SAGA_TOKEN) for every call."""

    per_identity = False

    def __init__(self, token: str) -> None:
        self._token = token

    def token(self, identity: str) -> str:
        """The same token whatever the action: your issuer decided who it is."""
        return self._token


class Credentials(BaseSettings):
    """SAGA_TOKEN and SAGA_DEV_KEY_FILE from the environment."""

    model_config = SettingsConfigDict(env_prefix="SAGA_")

    token: str = ""
    dev_key_file: Path = DEFAULT_KEY_FILE


def from_environment(*, signing: bool = False) -> Tokens:
    """SAGA_TOKEN if set (unless `signing`: tokens for any identity), else the dev key."""
    settings = Credentials()
    if settings.token and not signing:
        return StaticToken(settings.token)
    try:
        return DevTokens.from_file(settings.dev_key_file)
    except NoCredentials as exc:
        if signing and settings.token:
            raise NoCredentials(
                f"{exc}. SAGA_TOKEN is set, but this command acts as several identities "
                "(admin, manager, customers): it needs the dev key"
            ) from exc
        raise
