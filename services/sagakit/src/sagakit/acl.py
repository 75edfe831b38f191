"""Redis ACL users: each service writes only its own events and reads only what it hears.

Generated from the choreography (sagakit.choreography) for a stream prefix. Redis 7
selectors keep writing and reading apart: a service's root permissions allow XADD and
PUBLISH on its own event types (and XADD on the dead-letter stream) only; one selector
allows the consumer-group commands on the streams it hears, another SUBSCRIBE on their
channels, a third XLEN on the dead-letter stream (a gauge), a fourth XTRIM on it (the
retention of dead letters). A command is allowed when
one set allows both the command and every key or channel it touches, so the consumer
commands cannot write a stream it only hears, and XADD cannot reach it either.

Reconcile requests (sagakit.reconcile) travel on one more channel: booking may PUBLISH
on it, every service SUBSCRIBE to it.

The operator (`sagactl dlq`) reads and deletes dead letters and writes back to the event
streams and channels, nothing else. `sagactl up` creates these users with ACL SETUSER
(`create_users`); the Helm chart renders the same lines into an ACL file, and
tests/charts checks that they are the lines `acl_file` writes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping

from redis.asyncio import Redis

from sagakit.choreography import CHOREOGRAPHY, CONTROL_CHANNEL, CONTROL_OWNER, event_order
from sagakit.events import EventType

OPERATOR = "operator"
# What every client does besides its events: the services' PING (start, readiness).
CONNECTION = ("+ping",)
# FastStream names its client library on each connection (CLIENT SETINFO), a command of
# Redis 7.2+, which 7.0 would refuse to hear of in an ACL rule. Refused, it is skipped
# silently by redis-py, but every connection would add a line to the ACL LOG.
SETINFO = "+client|setinfo"
# FastStream's consumer groups: read new entries, ack, reclaim abandoned ones (XAUTOCLAIM),
# count deliveries (XPENDING), create the group; at shutdown hand entries back (XPENDING,
# XCLAIM); the metrics sampler reads each group's lag (XINFO GROUPS); housekeeping removes
# the names of dead processes (XINFO CONSUMERS, XGROUP DELCONSUMER: sagakit.housekeeping).
CONSUME_STREAMS = (
    "+xreadgroup",
    "+xack",
    "+xautoclaim",
    "+xclaim",
    "+xpending",
    "+xgroup|create",
    "+xinfo|groups",
    "+xinfo|consumers",
    "+xgroup|delconsumer",
)
CONSUME_CHANNELS = ("+subscribe", "+unsubscribe")
READ_DEAD_LETTERS = ("+xrange", "+xlen", "+xdel")
_UNSAFE = re.compile(r"[\s\"'\x00-\x1f\x7f]")


def username(name: str, prefix: str) -> str:
    """The ACL user of a service (or the operator) under a stream prefix."""
    return f"{prefix}{name}"


def password_hash(password: str) -> str:
    """The `#<sha256>` form Redis stores, so an ACL file holds no password."""
    return "#" + hashlib.sha256(password.encode()).hexdigest()


def service_rules(service: str, prefix: str, dead_letters: str, setinfo: bool) -> list[str]:
    """The ACL rules of one service of the choreography (without user, state or password)."""
    role = CHOREOGRAPHY[service]
    own, heard = _names(prefix, role.publishes), _names(prefix, role.consumes)
    dead = _pattern(prefix + dead_letters)
    control = _pattern(prefix + CONTROL_CHANNEL)  # reconcile requests: booking's, heard by all
    sends = [control] if service == CONTROL_OWNER else []
    return [
        *_base(setinfo),
        "+xadd",
        "+publish",
        *(f"%W~{name}" for name in [*own, dead]),
        *(f"&{name}" for name in [*own, *sends]),
        _selector([*CONSUME_STREAMS, *(f"~{name}" for name in heard)]),
        _selector([*CONSUME_CHANNELS, *(f"&{name}" for name in [*heard, control])]),
        _selector(["+xlen", f"%R~{dead}"]),
        _selector(["+xtrim", f"~{dead}"]),  # housekeeping trims old dead letters
    ]


def operator_rules(prefix: str, dead_letters: str, setinfo: bool) -> list[str]:
    """The operator's rules: dead letters read and deleted, redrives written, nothing else."""
    events = _names(prefix, frozenset(EventType))
    return [
        *_base(setinfo),
        "+xadd",
        "+publish",
        *(f"%W~{name}" for name in events),
        *(f"&{name}" for name in events),
        _selector([*READ_DEAD_LETTERS, f"~{_pattern(prefix + dead_letters)}"]),
    ]


def all_rules(prefix: str, dead_letters: str, setinfo: bool = True) -> dict[str, list[str]]:
    """Every user's rules by user name: the five services, then the operator.

    `setinfo`: allow CLIENT SETINFO (Redis 7.2 and later).
    """
    rules = {
        username(service, prefix): service_rules(service, prefix, dead_letters, setinfo)
        for service in CHOREOGRAPHY
    }
    rules[username(OPERATOR, prefix)] = operator_rules(prefix, dead_letters, setinfo)
    return rules


def acl_lines(prefix: str, dead_letters: str, hashes: Mapping[str, str]) -> list[str]:
    """ACL file lines of every user (Redis 7.2+), each with its `#<sha256>` from `hashes`."""
    return [
        " ".join(["user", user, *_definition(hashes[user], rules)])
        for user, rules in all_rules(prefix, dead_letters).items()
    ]


async def create_users(
    redis: Redis, prefix: str, dead_letters: str, passwords: Mapping[str, str]
) -> None:
    """Create (or reset) every user with ACL SETUSER; `passwords` by user name.

    Raises redis' ResponseError (NoPermissionError included) when the connection may
    not, or the server has no selectors (before Redis 7).
    """
    info = await redis.info("server")
    major, minor = (int(part) for part in str(info["redis_version"]).split(".")[:2])
    for user, rules in all_rules(prefix, dead_letters, (major, minor) >= (7, 2)).items():
        definition = _definition(password_hash(passwords[user]), rules)
        # Raw rules: redis-py's acl_setuser has no words for selectors.
        await redis.execute_command("ACL", "SETUSER", user, *definition)  # type: ignore[no-untyped-call]


async def delete_users(redis: Redis, users: Iterable[str]) -> None:
    """Remove users (a test's, or a stack's that is gone)."""
    names = list(users)
    if names:
        await redis.acl_deluser(*names)


def _definition(secret: str, rules: list[str]) -> list[str]:
    # reset: no password, keys, channels, commands or selectors left from before; then ours.
    return ["reset", "on", secret, *rules]


def _base(setinfo: bool) -> list[str]:
    # No channel either (reset allows all when acl-pubsub-default is allchannels).
    return ["resetchannels", *CONNECTION, *([SETINFO] if setinfo else [])]


def _selector(rules: Iterable[str]) -> str:
    return "(" + " ".join(rules) + ")"


def _names(prefix: str, events: frozenset[EventType]) -> list[str]:
    return [_pattern(prefix + event) for event in event_order(events)]


def _pattern(name: str) -> str:
    """A stream or channel name as an ACL pattern matching only itself."""
    if _UNSAFE.search(name):
        raise ValueError(f"{name!r}: a stream prefix for ACLs may not hold spaces or quotes")
    return re.sub(r"([*?\[\]\\])", r"\\\1", name)
