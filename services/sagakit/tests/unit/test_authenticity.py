"""Who may publish what: the stream, the owner and the signature of each incoming envelope."""

import base64
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from sagakit.authenticity import Authenticity, MissingKeys
from sagakit.choreography import CHOREOGRAPHY, OWNERS, producers_heard_by
from sagakit.events import Envelope, EventType, PaidBooking
from sagakit.keyring import Keyring
from sagakit.signing import SIGNATURE_HEADER, KeyFormatError, Verifier, new_signing_key

PREFIX = "p."
PUBLIC_DER = new_signing_key("k").verify_entry("payment").rsplit(":", 1)[1]


def paid(producer: str = "payment") -> tuple[Envelope, bytes]:
    event = PaidBooking(
        booking_id=uuid.uuid4(),
        customer_id="alice",
        item="Room",
        amount=Decimal("5000.00"),
        paid_at="2025-01-01T00:00:00Z",
    )
    envelope = Envelope.wrap(event, producer, None)
    return envelope, envelope.model_dump_json().encode()


def check(keys: Keyring, envelope: Envelope, body: bytes, headers: dict, origin: str = "") -> str:
    authenticity = Authenticity(PREFIX, Verifier.from_setting(keys.verify_keys()))
    origin = origin or PREFIX + envelope.event_type
    return str(authenticity.problem(origin, envelope, body, headers))


def test_the_owner_table_is_the_choreography() -> None:
    assert OWNERS == {
        EventType.CREATED_BOOKING_EVENT: "booking",
        EventType.APPROVED_BOOKING_EVENT: "manager",
        EventType.REJECTED_BOOKING_EVENT: "manager",
        EventType.BILLED_BOOKING_EVENT: "billing",
        EventType.PAID_BOOKING_EVENT: "payment",
        EventType.INSUFFICIENT_FUND_EVENT: "payment",
        EventType.INVOICE_GENERATED_EVENT: "invoice",
        EventType.PAYMENT_EXPIRED_EVENT: "payment",
    }
    assert producers_heard_by("invoice") == ["booking", "payment"]  # booking: reconcile requests
    assert producers_heard_by("booking") == sorted(CHOREOGRAPHY)


def test_a_message_signed_by_its_owner_on_its_own_stream_passes() -> None:
    keys = Keyring.generate()
    envelope, body = paid()
    headers = {SIGNATURE_HEADER: keys.sign("payment", body)}
    assert check(keys, envelope, body, headers) == "None"


def test_an_unsigned_message_is_refused() -> None:
    envelope, body = paid()
    assert check(Keyring.generate(), envelope, body, {}).startswith("unsigned")


def test_a_message_on_another_stream_is_refused() -> None:
    keys = Keyring.generate()
    envelope, body = paid()
    headers = {SIGNATURE_HEADER: keys.sign("payment", body)}
    problem = check(keys, envelope, body, headers, origin=PREFIX + "BILLED_BOOKING_EVENT")
    assert problem == (
        "a PAID_BOOKING_EVENT arrived on 'p.BILLED_BOOKING_EVENT'; "
        "it travels only on 'p.PAID_BOOKING_EVENT'"
    )


def test_a_service_signing_another_services_event_is_refused() -> None:
    keys = Keyring.generate()
    envelope, body = paid(producer="billing")  # billing, compromised, forges a payment
    headers = {SIGNATURE_HEADER: keys.sign("billing", body)}
    problem = check(keys, envelope, body, headers)
    assert problem == "producer 'billing' may not publish PAID_BOOKING_EVENT (only payment)"


def test_the_owners_name_with_another_key_is_refused() -> None:
    keys = Keyring.generate()
    envelope, body = paid()
    headers = {SIGNATURE_HEADER: keys.sign("billing", body)}  # billing's key, payment's name
    assert "which is not a key of payment" in check(keys, envelope, body, headers)


def test_an_altered_message_is_refused() -> None:
    keys = Keyring.generate()
    envelope, body = paid()
    headers = {SIGNATURE_HEADER: keys.sign("payment", body)}
    altered = body.replace(b"5000.00", b"5.00")
    assert "does not match the message" in check(keys, envelope, altered, headers)
    garbled = {SIGNATURE_HEADER: headers[SIGNATURE_HEADER][:-4] + "!!!!"}
    assert "does not match the message" in check(keys, envelope, body, garbled)


def test_a_rotation_accepts_both_keys_then_only_the_new_one() -> None:
    old, new = new_signing_key("2024-old"), new_signing_key("2025-new")
    envelope, body = paid()
    by_old = {SIGNATURE_HEADER: old.sign(body)}
    by_new = {SIGNATURE_HEADER: new.sign(body)}
    both = f"{new.verify_entry('payment')} {old.verify_entry('payment')}"
    during = Authenticity(PREFIX, Verifier.from_setting(both))
    after = Authenticity(PREFIX, Verifier.from_setting(new.verify_entry("payment")))
    origin = PREFIX + envelope.event_type
    assert during.problem(origin, envelope, body, by_old) is None
    assert during.problem(origin, envelope, body, by_new) is None
    assert after.problem(origin, envelope, body, by_new) is None
    assert "'2024-old', which is not a key of payment" in str(
        after.problem(origin, envelope, body, by_old)
    )


def test_a_service_without_its_keys_refuses_to_start() -> None:
    keys = Keyring.generate()
    unsigned = Authenticity.from_settings("", "", keys.verify_keys())
    with pytest.raises(MissingKeys, match="EVENT_SIGNING_KEY is not set"):
        unsigned.require("payment", [EventType.PAID_BOOKING_EVENT], ["billing"])
    env = keys.env("invoice")
    deaf = Authenticity.from_settings("", env["EVENT_SIGNING_KEY"], keys.verify_keys(["billing"]))
    with pytest.raises(MissingKeys, match="hears events of payment"):
        deaf.require("invoice", [EventType.INVOICE_GENERATED_EVENT], ["payment"])
    ready = Authenticity.from_settings("", env["EVENT_SIGNING_KEY"], env["EVENT_VERIFY_KEYS"])
    ready.require("invoice", [EventType.INVOICE_GENERATED_EVENT], ["payment"])


def test_a_certificate_carries_a_verify_key_as_the_chart_writes_it() -> None:
    key = new_signing_key("chart")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "payment")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2000, 1, 1, tzinfo=UTC))
        # Long expired: only the key inside counts.
        .not_valid_after(datetime(2001, 1, 1, tzinfo=UTC))
        .sign(key.private, algorithm=None)
    )
    der = base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()
    verifier = Verifier.from_setting(f"payment:chart:{der}")
    _, body = paid()
    assert verifier.problem("payment", body, key.sign(body)) is None


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("payment:k1", "expected <producer>:<key id>:<base64>"),
        ("payment:k1:not base64!", "not valid base64"),
        ("payment:k1:aGVsbG8=", "not a public key"),
        ("payment:bad/id:" + PUBLIC_DER, "key id 'bad/id'"),
    ],
)
def test_unreadable_verify_keys_are_refused_with_the_entry(setting: str, message: str) -> None:
    with pytest.raises(KeyFormatError, match=message):
        Verifier.from_setting(setting)
