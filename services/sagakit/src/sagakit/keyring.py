"""Every service's signing key in one place, and the settings each service gets from it.

`sagactl up`, the end-to-end tests and the benchmark make one keyring per stack; each
service gets its own private key (EVENT_SIGNING_KEY) and the public keys of the
producers it hears (EVENT_VERIFY_KEYS); the operator gets every public key, to
re-verify dead letters. The Helm chart wires the same from its own generated keys.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sagakit.choreography import SERVICES, producers_heard_by
from sagakit.signing import SigningKey, load_signing_key, new_signing_key


def new_key_id() -> str:
    """A key id that sorts by creation date and differs between two keys of one day."""
    return f"{time.strftime('%Y%m%d')}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Keyring:
    """One signing key per producer."""

    keys: Mapping[str, SigningKey]

    @classmethod
    def generate(cls, services: Iterable[str] = SERVICES) -> Keyring:
        """A new random key for each service."""
        return cls({service: new_signing_key(new_key_id()) for service in services})

    @classmethod
    def load(cls, text: str) -> Keyring:
        """Read what `dump` wrote."""
        stored: dict[str, str] = json.loads(text)
        return cls({service: load_signing_key(value) for service, value in stored.items()})

    def dump(self) -> str:
        """The private keys as JSON (keep it where only its owner can read it)."""
        return json.dumps({service: key.setting() for service, key in self.keys.items()}, indent=2)

    def verify_keys(self, producers: Iterable[str] | None = None) -> str:
        """EVENT_VERIFY_KEYS with the public keys of `producers` (all by default)."""
        names = self.keys if producers is None else producers
        return ",".join(self.keys[name].verify_entry(name) for name in names)

    def env(self, service: str) -> dict[str, str]:
        """The key settings of one service of the choreography."""
        return {
            "EVENT_SIGNING_KEY": self.keys[service].setting(),
            "EVENT_VERIFY_KEYS": self.verify_keys(producers_heard_by(service)),
        }

    def sign(self, producer: str, body: bytes) -> str:
        """The signature header value `producer` would put on `body`."""
        return self.keys[producer].sign(body)
