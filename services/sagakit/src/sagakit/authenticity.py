"""Events only from those allowed to send them: the checks before a message is handled.

A message is handled only when it came on the stream (or channel) of its own
`event_type`, its `producer` owns that event type (sagakit.choreography), and the
owner's signature of its exact bytes verifies (sagakit.signing). Anything else is
dead-lettered with the reason and never handled; `sagactl dlq redrive` applies the
same checks before it writes a dead letter back. Outgoing messages are signed here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from faststream.redis.parser.binary import BinaryMessageFormatV1

from sagakit.choreography import OWNERS
from sagakit.events import Envelope, EventType
from sagakit.outbox import OutboxMessage
from sagakit.signing import SIGNATURE_HEADER, SigningKey, Verifier, load_signing_key


class MissingKeys(RuntimeError):
    """The service lacks the keys to sign what it publishes or verify what it hears."""


class Authenticity:
    """Signs what this process publishes; says why an incoming message must not be handled."""

    def __init__(self, prefix: str, verifier: Verifier, signer: SigningKey | None = None) -> None:
        self.prefix = prefix
        self.verifier = verifier
        self.signer = signer

    @classmethod
    def from_settings(cls, prefix: str, signing_key: str, verify_keys: str) -> Authenticity:
        """From EVENT_PREFIX, EVENT_SIGNING_KEY and EVENT_VERIFY_KEYS (raises KeyFormatError)."""
        signer = load_signing_key(signing_key) if signing_key.strip() else None
        return cls(prefix, Verifier.from_setting(verify_keys), signer)

    def require(self, service: str, publishes: Iterable[EventType], hears: Iterable[str]) -> None:
        """Refuse to run without a signing key (if it publishes) or a producer's verify keys."""
        if list(publishes) and self.signer is None:
            raise MissingKeys(
                f"{service} publishes events but EVENT_SIGNING_KEY is not set: `sagactl up` "
                "and the Helm chart generate it (docs/security.md)"
            )
        missing = sorted(set(hears) - set(self.verifier.keys))
        if missing:
            raise MissingKeys(
                f"{service} hears events of {', '.join(missing)} but EVENT_VERIFY_KEYS has no "
                "key of theirs: every such event would be dead-lettered (docs/security.md)"
            )

    def sign(self, messages: list[OutboxMessage]) -> list[OutboxMessage]:
        """The messages with this producer's signature of their exact bytes in a header."""
        signer = self.signer
        if signer is None:
            raise MissingKeys("EVENT_SIGNING_KEY is not set: this process cannot publish")
        return [
            replace(m, headers={**m.headers, SIGNATURE_HEADER: signer.sign(m.body.encode())})
            for m in messages
        ]

    def problem(
        self, origin: str, envelope: Envelope, body: bytes, headers: Mapping[str, Any]
    ) -> str | None:
        """Why this message must not be handled (stream, producer, signature); None if fine."""
        event_type = envelope.event_type
        expected = self.prefix + event_type
        if origin != expected:
            return f"a {event_type} arrived on {origin!r}; it travels only on {expected!r}"
        owner = OWNERS[event_type]
        if envelope.producer != owner:
            return f"producer {envelope.producer!r} may not publish {event_type} (only {owner})"
        signature = headers.get(SIGNATURE_HEADER)
        return self.verifier.problem(owner, body, signature if isinstance(signature, str) else None)


def unpack(data: bytes) -> tuple[bytes, dict[str, Any]]:
    """A message's `__data__` as (envelope bytes, headers), as the consumers read it."""
    return BinaryMessageFormatV1.parse(data)
