"""One saga, one trace: OTLP spans from the five real processes, on both transports."""

import asyncio
from collections import defaultdict
from decimal import Decimal

import pytest

SERVER, PRODUCER, CONSUMER = 2, 4, 5
SERVICES = {"booking", "manager", "billing", "payment", "invoice"}


@pytest.fixture(params=["streams", "pubsub"])
def live(request: pytest.FixtureRequest):
    return request.getfixturevalue(request.param)


async def run_saga(live, credit: str) -> tuple[str, str]:
    customer = await live.customer(Decimal(credit))
    booking_id = await live.book(customer, Decimal("120.00"))
    await live.billed(booking_id)
    outcome = (await live.pay(booking_id))["status"]
    await live.booking_status(booking_id, "reserved" if outcome == "paid" else "failed")
    return booking_id, outcome


async def spans_of(otlp, booking_id: str, last_step: str):
    """Wait until the span of the saga's last consumer arrived, then return the saga's spans."""
    for _ in range(200):
        tagged = [s for s in otlp.snapshot() if s.attributes.get("saga.booking_id") == booking_id]
        if any(
            s.kind == CONSUMER and last_step in s.name and s.service == "booking" for s in tagged
        ):
            await asyncio.sleep(0.3)  # the last batches of the other services
            return otlp.snapshot()
        await asyncio.sleep(0.05)
    pytest.fail(f"no consumer span of {last_step} for {booking_id} arrived")


def saga_trace(spans, booking_id: str) -> str:
    [root] = [
        s
        for s in spans
        if s.kind == SERVER
        and s.name == "POST /bookings"
        and s.attributes.get("saga.booking_id") == booking_id
    ]
    return root.trace_id


@pytest.mark.parametrize("credit", ["500.00", "50.00"], ids=["reserved", "compensated"])
async def test_a_saga_is_one_trace_across_five_services(live, otlp, credit: str) -> None:
    booking_id, outcome = await run_saga(live, credit)
    last = "INVOICE_GENERATED_EVENT" if outcome == "paid" else "INSUFFICIENT_FUND_EVENT"
    spans = await spans_of(otlp, booking_id, last)
    trace_id = saga_trace(spans, booking_id)
    in_trace = [s for s in spans if s.trace_id == trace_id]
    by_id = {s.span_id: s for s in in_trace}

    # Every message hop of this saga is in the one trace.
    hops = [
        s
        for s in spans
        if s.kind in (PRODUCER, CONSUMER) and s.attributes.get("saga.booking_id") == booking_id
    ]
    assert {s.trace_id for s in hops} == {trace_id}
    # Spans from all five services (compensation never reaches invoice).
    expected = SERVICES if outcome == "paid" else SERVICES - {"invoice"}
    assert {s.service for s in in_trace} >= expected
    # Every span of the trace carries the correlation id.
    assert [s.name for s in in_trace if s.attributes.get("saga.booking_id") != booking_id] == []
    # Every consumer's parent is the producer span of the message it handles.
    consumers = [s for s in in_trace if s.kind == CONSUMER and s.name.endswith("process")]
    assert len(consumers) >= (6 if outcome == "paid" else 5)
    for consumer in consumers:
        parent = by_id.get(consumer.parent_id)
        assert parent is not None and parent.kind == PRODUCER, consumer.name
        assert parent.name.split()[0] == consumer.name.split()[0]  # same stream/channel


async def test_the_payment_request_is_attached_to_the_saga(live, otlp) -> None:
    booking_id, _ = await run_saga(live, "500.00")
    spans = await spans_of(otlp, booking_id, "INVOICE_GENERATED_EVENT")
    trace_id = saga_trace(spans, booking_id)
    [request] = [
        s
        for s in spans
        if s.kind == SERVER
        and s.name == "POST /payments"
        and s.attributes.get("saga.booking_id") == booking_id
    ]
    assert request.trace_id != trace_id  # the customer's request is its own trace...
    [bridge] = [
        s for s in spans if s.name == "payment continues the saga" and s.trace_id == trace_id
    ]
    assert (request.trace_id, request.span_id) in bridge.links  # ...linked from the saga
    assert (bridge.trace_id, bridge.span_id) in request.links  # ...and linking back
    children = defaultdict(list)
    for span in spans:
        children[span.parent_id].append(span)
    published = [s for s in children[bridge.span_id] if s.kind == PRODUCER]
    assert published and all(
        s.name.startswith(live.prefix + "PAID_BOOKING_EVENT") for s in published
    )
