"""Keys and Redis users of a local stack: what the Helm chart sets up in a cluster.

`sagactl up`, the end-to-end tests and the benchmark give each service its own signing
key and the public keys of the producers it hears (sagakit.keyring), and, when the
Redis connection may create users, its own ACL user (sagakit.acl) with a random
password. When it may not (a managed Redis, a user without ACL rights, Redis before 7),
the services share the connection's user and say so; the signatures still hold.
`up` keeps the keys in `.local/events/` (so messages in flight stay verifiable across
restarts) and writes the operator's settings there for `sagactl dlq`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from sagakit import acl
from sagakit.authenticity import Authenticity
from sagakit.choreography import SERVICES
from sagakit.keyring import Keyring
from sagakit.signing import Verifier

OPERATOR_ENV = Path(".local") / "events" / "operator.env"
DEFAULT_DEAD_LETTERS = "saga.dead-letters"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class StackSecurity:
    """A stack's keyring and, by user (service or operator), its own Redis URL if it has one."""

    keyring: Keyring
    prefix: str
    redis_url: str
    own_urls: Mapping[str, str] = field(default_factory=dict)

    def service_env(self) -> dict[str, dict[str, str]]:
        """What each service's environment gets: its keys, and its Redis user if any."""
        env = {service: self.keyring.env(service) for service in SERVICES}
        for service in SERVICES:
            if service in self.own_urls:
                env[service]["REDIS_URL"] = self.own_urls[service]
        return env

    def operator_env(self) -> dict[str, str]:
        """What `sagactl dlq` needs: the operator's Redis user, the prefix, every public key."""
        return {
            "REDIS_URL": self.own_urls.get(acl.OPERATOR, self.redis_url),
            "EVENT_PREFIX": self.prefix,
            "EVENT_VERIFY_KEYS": self.keyring.verify_keys(),
        }

    def users(self) -> list[str]:
        """The ACL users created for this stack (none when it shares the connection's user)."""
        return [acl.username(name, self.prefix) for name in self.own_urls]


async def secure(
    redis_url: str,
    prefix: str,
    dead_letters: str,
    keyring: Keyring,
    say: Callable[[str], None],
) -> StackSecurity:
    """Create the stack's ACL users if the connection may; else say why the services share it."""
    names = [*SERVICES, acl.OPERATOR]
    passwords = {acl.username(name, prefix): secrets.token_urlsafe(24) for name in names}
    client = Redis.from_url(redis_url)
    try:
        await acl.create_users(client, prefix, dead_letters, passwords)
    except ResponseError as exc:
        where = urlsplit(redis_url).hostname
        say(
            f"Redis at {where} does not let sagactl create ACL users ({exc}): the services "
            "share this connection's user. Signed events still protect the saga; "
            "docs/security.md says how to give each service its own user."
        )
        return StackSecurity(keyring, prefix, redis_url)
    finally:
        await client.aclose()
    own = {name: with_user(redis_url, acl.username(name, prefix), passwords) for name in names}
    return StackSecurity(keyring, prefix, redis_url, own)


async def prepare_local(
    redis_url: str, env: Mapping[str, str], state: Path, say: Callable[[str], None]
) -> StackSecurity:
    """`sagactl up`: the stored keys, users if Redis allows, the operator's settings written."""
    folder = state / "events"
    prefix = env.get("EVENT_PREFIX", "")
    dead_letters = env.get("DEAD_LETTER_STREAM", DEFAULT_DEAD_LETTERS)
    security = await secure(redis_url, prefix, dead_letters, local_keyring(folder), say)
    write_operator_env(folder / "operator.env", security.operator_env())
    if security.own_urls:
        say(
            "each service has its own Redis user; `sagactl dlq` uses the operator's "
            f"({folder / 'operator.env'})"
        )
    return security


async def withdraw(security: StackSecurity) -> None:
    """Delete the stack's ACL users (a test's stack that is done)."""
    client = Redis.from_url(security.redis_url)
    try:
        await acl.delete_users(client, security.users())
    finally:
        await client.aclose()


def with_user(url: str, user: str, passwords: Mapping[str, str]) -> str:
    """`url` logged in as `user` (its password from `passwords`)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    login = f"{quote(user, safe='')}:{quote(passwords[user], safe='')}"
    return urlunsplit(parts._replace(netloc=f"{login}@{host}"))


def local_keyring(folder: Path) -> Keyring:
    """The keys of `sagactl up` in `folder` (created once, readable by their owner only)."""
    path = folder / "keys.json"
    if path.exists():
        return Keyring.load(path.read_text())
    keyring = Keyring.generate()
    _write_private(path, keyring.dump())
    return keyring


def write_operator_env(path: Path, env: Mapping[str, str]) -> None:
    """Write the operator's settings as KEY=value lines (read back by `operator_defaults`)."""
    _write_private(path, "".join(f"{key}={value}\n" for key, value in env.items()))


def operator_defaults(path: Path = OPERATOR_ENV) -> dict[str, str]:
    """The settings `sagactl up` wrote for the operator; empty when there are none."""
    if not path.exists():
        return {}
    pairs = (line.partition("=") for line in path.read_text().splitlines() if "=" in line)
    return {key: value for key, _, value in pairs}


@dataclass(frozen=True)
class Target:
    """Where `sagactl dlq` finds the dead letters, and how it checks them."""

    redis_url: str
    prefix: str
    stream: str
    verify_keys: str

    def authenticity(self) -> Authenticity:
        """The consumers' checks, with every producer's public keys."""
        return Authenticity(self.prefix, Verifier.from_setting(self.verify_keys))


def target(redis_url: str | None, prefix: str | None, stream: str, keys: str | None) -> Target:
    """The options and environment, or `sagactl up`'s operator settings when REDIS_URL is unset."""
    local = (
        {}
        if redis_url
        else operator_defaults(Path(os.environ.get("SAGA_OPERATOR_ENV", OPERATOR_ENV)))
    )
    return Target(
        redis_url or local.get("REDIS_URL", DEFAULT_REDIS),
        prefix if prefix is not None else local.get("EVENT_PREFIX", ""),
        stream,
        keys if keys is not None else local.get("EVENT_VERIFY_KEYS", ""),
    )


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
