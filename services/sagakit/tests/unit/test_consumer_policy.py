"""The delivery policy with in-memory fakes: when to ack, retry or dead-letter."""

import uuid
from decimal import Decimal

from sagakit.authenticity import Authenticity
from sagakit.consumer import EventConsumer, Outcome
from sagakit.deadletter import Failure
from sagakit.delivery import Delivery
from sagakit.events import CreatedBooking, Envelope
from sagakit.signing import SIGNATURE_HEADER, Verifier
from sagakit.testing import FakeUnitOfWork, run_keyring

AUTHENTICITY = Authenticity("", Verifier.from_setting(run_keyring().verify_keys()))


class FakeDeadLetters:
    def __init__(self) -> None:
        self.failures: list[Failure] = []

    async def add(self, failure: Failure) -> str:
        self.failures.append(failure)
        return "1-0"


class FakeStreamMessage:
    def __init__(self, deliveries: int) -> None:
        self.deliveries = deliveries
        self.acked = False

    async def ack(self) -> None:
        self.acked = True

    async def get_delivery_count(self) -> int:
        return self.deliveries


def consumer(
    dead: FakeDeadLetters, uow: FakeUnitOfWork, max_deliveries: int = 3, outage: float = 0.0
) -> EventConsumer:
    return EventConsumer(
        "svc",
        lambda: uow,
        dead,  # type: ignore[arg-type]
        max_deliveries,
        "streams",
        AUTHENTICITY,
        outage_seconds=outage,
    )


def delivery(body: bytes, origin: str = "CREATED_BOOKING_EVENT") -> Delivery:
    headers = {SIGNATURE_HEADER: run_keyring().sign("booking", body)}
    return Delivery(origin, "1-0", body, {b"__data__": body}, headers)


def good_body() -> bytes:
    event = CreatedBooking(booking_id=uuid.uuid4(), customer_id="a", item="R", amount=Decimal(1))
    return Envelope.wrap(event, "booking", None).model_dump_json().encode()


async def record(event, uow) -> None:
    async with uow:
        await uow.commit()


async def explode(event, uow) -> None:
    raise RuntimeError("database is down")


async def test_a_handled_message_is_acked() -> None:
    dead, uow, message = FakeDeadLetters(), FakeUnitOfWork("svc"), FakeStreamMessage(1)
    outcome = await consumer(dead, uow).on_stream(message, delivery(good_body()), record, False)
    assert outcome is Outcome.HANDLED
    assert message.acked
    assert dead.failures == []


async def test_a_duplicate_is_acked_without_running_the_handler_twice() -> None:
    dead, uow = FakeDeadLetters(), FakeUnitOfWork("svc")
    body = good_body()
    first, second = FakeStreamMessage(1), FakeStreamMessage(1)
    await consumer(dead, uow).on_stream(first, delivery(body), record, False)
    outcome = await consumer(dead, uow).on_stream(second, delivery(body), record, False)
    assert outcome is Outcome.DUPLICATE
    assert second.acked
    assert uow.commits == 1


async def test_a_malformed_message_is_dead_lettered_at_once_and_acked() -> None:
    dead, message = FakeDeadLetters(), FakeStreamMessage(1)
    outcome = await consumer(dead, FakeUnitOfWork("svc")).on_stream(
        message, delivery(b'{"hello": "world"}'), record, False
    )
    assert outcome is Outcome.DEAD_LETTERED
    assert message.acked
    [failure] = dead.failures
    assert failure.error.startswith("malformed:")
    assert failure.origin == "CREATED_BOOKING_EVENT"
    assert failure.consumer == "svc"


async def test_a_failing_handler_is_left_pending_until_the_last_delivery() -> None:
    dead = FakeDeadLetters()
    early = FakeStreamMessage(2)
    outcome = await consumer(dead, FakeUnitOfWork("svc")).on_stream(
        early, delivery(good_body()), explode, True
    )
    assert outcome is Outcome.RETRY
    assert not early.acked
    last = FakeStreamMessage(3)
    outcome = await consumer(dead, FakeUnitOfWork("svc")).on_stream(
        last, delivery(good_body()), explode, True
    )
    assert outcome is Outcome.DEAD_LETTERED
    assert last.acked
    [failure] = dead.failures
    assert "database is down" in failure.error
    assert failure.deliveries == 3
    assert failure.event_type == "CREATED_BOOKING_EVENT"


async def test_a_message_that_keeps_crashing_its_consumer_is_given_up() -> None:
    dead, message = FakeDeadLetters(), FakeStreamMessage(4)
    outcome = await consumer(dead, FakeUnitOfWork("svc")).on_stream(
        message, delivery(good_body()), record, True
    )
    assert outcome is Outcome.DEAD_LETTERED
    assert message.acked
    assert "gave up after 3 deliveries" in dead.failures[0].error


async def test_pubsub_retries_in_process_then_dead_letters() -> None:
    dead = FakeDeadLetters()
    calls = 0

    async def flaky(event, uow) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("boom")

    outcome = await consumer(dead, FakeUnitOfWork("svc")).on_channel(delivery(good_body()), flaky)
    assert outcome is Outcome.DEAD_LETTERED
    assert calls == 3
    assert dead.failures[0].deliveries == 3


async def test_pubsub_recovers_when_a_retry_succeeds() -> None:
    attempts = 0

    async def second_time_lucky(event, uow) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("blip")
        await record(event, uow)

    dead = FakeDeadLetters()
    outcome = await consumer(dead, FakeUnitOfWork("svc")).on_channel(
        delivery(good_body()), second_time_lucky
    )
    assert outcome is Outcome.HANDLED
    assert dead.failures == []


async def test_a_message_on_the_wrong_stream_is_dead_lettered_unhandled() -> None:
    dead, uow, message = FakeDeadLetters(), FakeUnitOfWork("svc"), FakeStreamMessage(1)
    wrong = delivery(good_body(), origin="PAID_BOOKING_EVENT")
    outcome = await consumer(dead, uow).on_stream(message, wrong, record, False)
    assert outcome is Outcome.DEAD_LETTERED
    assert message.acked
    assert uow.commits == 0
    [failure] = dead.failures
    assert failure.error.startswith("rejected: a CREATED_BOOKING_EVENT arrived on 'PAID_BOOKING")
    assert failure.raw == wrong.raw


async def test_an_altered_message_is_dead_lettered_over_pubsub_without_retries() -> None:
    dead, uow = FakeDeadLetters(), FakeUnitOfWork("svc")
    signed = delivery(good_body())
    altered = signed.body.replace(b'"amount":"1.00"', b'"amount":"0.01"')
    assert altered != signed.body
    tampered = Delivery(signed.origin, "", altered, {b"__data__": altered}, signed.headers)
    outcome = await consumer(dead, uow).on_channel(tampered, record)
    assert outcome is Outcome.DEAD_LETTERED
    assert uow.commits == 0
    [failure] = dead.failures
    assert failure.deliveries == 1
    assert "does not match the message" in failure.error


def refused_then_recorded(refusals: int) -> tuple[list[int], object]:
    calls: list[int] = []

    async def handler(event, uow) -> None:
        calls.append(1)
        if len(calls) <= refusals:
            raise ConnectionRefusedError("connection refused")  # Postgres restarting
        await record(event, uow)

    return calls, handler


async def test_an_outage_is_retried_in_process_and_never_counts_as_a_delivery() -> None:
    dead, uow = FakeDeadLetters(), FakeUnitOfWork("svc")
    calls, handler = refused_then_recorded(refusals=3)
    message = FakeStreamMessage(deliveries=3)  # the last delivery: one failure would end it
    outcome = await consumer(dead, uow, outage=5.0).on_stream(
        message, delivery(good_body()), handler, reclaimed=False
    )
    assert outcome is Outcome.HANDLED
    assert len(calls) == 4
    assert message.acked
    assert dead.failures == []


async def test_an_outage_longer_than_the_window_counts_as_one_failed_delivery() -> None:
    dead, uow = FakeDeadLetters(), FakeUnitOfWork("svc")
    calls, handler = refused_then_recorded(refusals=1000)
    message = FakeStreamMessage(deliveries=1)
    outcome = await consumer(dead, uow, outage=0.2).on_stream(
        message, delivery(good_body()), handler, reclaimed=False
    )
    assert outcome is Outcome.RETRY  # left pending: the next delivery tries again
    assert 1 < len(calls) < 10
    assert not message.acked


async def test_a_bug_is_not_retried_as_an_outage() -> None:
    dead, uow = FakeDeadLetters(), FakeUnitOfWork("svc")
    calls: list[int] = []

    async def broken(event, uow) -> None:
        calls.append(1)
        raise ValueError("a bug")

    message = FakeStreamMessage(deliveries=1)
    outcome = await consumer(dead, uow, outage=5.0).on_stream(
        message, delivery(good_body()), broken, reclaimed=False
    )
    assert outcome is Outcome.RETRY
    assert calls == [1]
