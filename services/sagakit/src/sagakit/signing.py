"""Signed envelopes: each producer signs what it publishes, consumers verify (Ed25519).

The signature covers the exact bytes of the envelope as published (the `data` of the
message) and travels in the `saga-signature` header as `<key id>:<base64url signature>`.
Ed25519 rather than an HMAC: a verifier holds only public keys, so a service that
hears an event (booking hears all eight) cannot forge it, and neither can the operator
who re-verifies dead letters (docs/security.md says more).

Settings (docs/configuration.md):
  EVENT_SIGNING_KEY   `<key id>:<base64 PKCS#8 DER>`, the service's private key
  EVENT_VERIFY_KEYS   `<producer>:<key id>:<base64 DER>` entries separated by commas or
                      whitespace; the DER is a public key (SubjectPublicKeyInfo) or an
                      X.509 certificate carrying one (what the Helm chart can generate)
A producer signs with its one key; a consumer accepts every key listed for the producer,
so a rotation adds the new public key everywhere, switches the signer, then drops the old.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNATURE_HEADER = "saga-signature"
KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class KeyFormatError(ValueError):
    """A key setting that cannot be read; the message names the entry."""


@dataclass(frozen=True)
class SigningKey:
    """A producer's private key and its id."""

    kid: str
    private: Ed25519PrivateKey

    def sign(self, body: bytes) -> str:
        """The header value: this key's id and its signature of `body`."""
        signature = base64.urlsafe_b64encode(self.private.sign(body)).rstrip(b"=").decode()
        return f"{self.kid}:{signature}"

    def setting(self) -> str:
        """This key as EVENT_SIGNING_KEY's value."""
        der = self.private.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return f"{self.kid}:{base64.b64encode(der).decode()}"

    def verify_entry(self, producer: str) -> str:
        """The public half as one EVENT_VERIFY_KEYS entry of `producer`."""
        der = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return f"{producer}:{self.kid}:{base64.b64encode(der).decode()}"


def new_signing_key(kid: str) -> SigningKey:
    """A fresh random key."""
    return SigningKey(_kid(kid), Ed25519PrivateKey.generate())


def load_signing_key(value: str) -> SigningKey:
    """Read EVENT_SIGNING_KEY (`<key id>:<base64 PKCS#8 DER>`)."""
    kid, _, encoded = value.strip().partition(":")
    try:
        private = serialization.load_der_private_key(_der(encoded), password=None)
    except ValueError as exc:
        raise KeyFormatError(f"signing key {kid!r}: not a private key ({exc})") from exc
    if not isinstance(private, Ed25519PrivateKey):
        raise KeyFormatError(f"signing key {kid!r}: not an Ed25519 key")
    return SigningKey(_kid(kid), private)


class Verifier:
    """The public keys of every producer a service hears, by producer and key id."""

    def __init__(self, keys: Mapping[str, Mapping[str, Ed25519PublicKey]]) -> None:
        self.keys = {producer: dict(by_id) for producer, by_id in keys.items()}

    @classmethod
    def from_setting(cls, value: str) -> Verifier:
        """Read EVENT_VERIFY_KEYS (`<producer>:<key id>:<base64 DER>`, ...)."""
        keys: dict[str, dict[str, Ed25519PublicKey]] = {}
        for entry in re.split(r"[\s,]+", value.strip()):
            if entry:
                producer, kid, key = _verify_entry(entry)
                keys.setdefault(producer, {})[kid] = key
        return cls(keys)

    def problem(self, producer: str, body: bytes, signature: str | None) -> str | None:
        """Why `signature` does not prove that `producer` published `body`; None if it does."""
        if not signature:
            return f"unsigned (producer {producer} signs every event)"
        kid, _, encoded = signature.partition(":")
        key = self.keys.get(producer, {}).get(kid)
        if key is None:
            return f"signed with key {kid!r}, which is not a key of {producer}"
        try:
            key.verify(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)), body)
        except (InvalidSignature, binascii.Error, ValueError):
            return f"signature by {producer}'s key {kid!r} does not match the message"
        return None


def _verify_entry(entry: str) -> tuple[str, str, Ed25519PublicKey]:
    producer, _, rest = entry.partition(":")
    kid, _, encoded = rest.partition(":")
    if not producer or not encoded:
        raise KeyFormatError(f"verify key {entry[:40]!r}: expected <producer>:<key id>:<base64>")
    der = _der(encoded)
    try:
        public = serialization.load_der_public_key(der)
    except ValueError:
        try:  # the chart carries public keys in self-signed certificates (docs/security.md)
            public = x509.load_der_x509_certificate(der).public_key()
        except ValueError as exc:
            raise KeyFormatError(f"verify key {producer}:{kid}: not a public key") from exc
    if not isinstance(public, Ed25519PublicKey):
        raise KeyFormatError(f"verify key {producer}:{kid}: not an Ed25519 key")
    return producer, _kid(kid), public


def _der(encoded: str) -> bytes:
    try:
        return base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise KeyFormatError(f"a key is not valid base64 ({exc})") from exc


def _kid(kid: str) -> str:
    if not KEY_ID.match(kid):
        raise KeyFormatError(f"key id {kid[:70]!r}: use 1-64 of A-Z a-z 0-9 . _ -")
    return kid
