"""Saga metrics are observed only once the transaction that ends a saga has committed."""

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from prometheus_client import REGISTRY

from booking.adapters.saga_metrics import sample_running_sagas
from booking.domain.commands import CreateBooking
from booking.domain.model import Booking
from booking.service_layer import handlers
from sagakit import metrics
from sagakit.events import ApprovedBooking, Envelope, InvoiceGenerated
from sagakit.tracing import continued

TRACE = "0af7651916cd43dd8448eb211c80319c"
HEADERS = {"traceparent": f"00-{TRACE}-b7ad6b7169203331-01"}


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"service": "booking", **labels}) or 0.0


def reserved() -> float:
    return sample("booking_saga_outcomes_total", outcome="reserved")


def invoice_steps() -> float:
    return sample("booking_saga_step_duration_seconds_count", step="INVOICE_GENERATED_EVENT")


async def approved_booking(new_uow) -> Booking:
    command = CreateBooking(customer_id="carol", item="Room", amount=Decimal("10.00"))
    booking = await handlers.create_booking(command, new_uow())
    event = ApprovedBooking(booking_id=booking.id, customer_id="carol", item="R", amount=1)
    await handlers.approved_booking(
        event, new_uow().handling(Envelope.wrap(event, "m", None), "booking")
    )
    return booking


async def test_a_rolled_back_final_state_observes_nothing(new_uow) -> None:
    booking = await approved_booking(new_uow)
    before = reserved()
    with pytest.raises(RuntimeError):
        async with new_uow() as uow:
            stored = await uow.bookings.get(booking.id, for_update=True)
            assert stored.reserve()
            await uow.bookings.save(stored)
            raise RuntimeError("crash before commit")
    assert reserved() == before


async def test_a_reserved_saga_is_counted_timed_and_traced_after_commit(new_uow) -> None:
    booking = await approved_booking(new_uow)
    before = (reserved(), sample("booking_saga_duration_seconds_count", outcome="reserved"))
    steps_before = invoice_steps()
    event = InvoiceGenerated(
        booking_id=booking.id, invoice_id=uuid.uuid4(), invoice_number="INV-9", total=10
    )
    envelope = Envelope.wrap(event, "invoice", None)
    with continued(HEADERS):
        uow = new_uow().handling(envelope, "booking")
        async with uow:
            stored = await uow.bookings.get(booking.id, for_update=True)
            assert stored.reserve()
            await uow.bookings.save(stored)
            assert reserved() == before[0]  # saved, not committed: nothing observed yet
            assert invoice_steps() == steps_before
            await uow.commit()
    assert reserved() == before[0] + 1
    assert sample("booking_saga_duration_seconds_count", outcome="reserved") == before[1] + 1
    assert invoice_steps() == steps_before + 1
    exemplars = [
        s.exemplar.labels
        for family in metrics.SAGA_DURATION.collect()
        for s in family.samples
        if s.exemplar is not None and s.labels.get("outcome") == "reserved"
    ]
    assert {"trace_id": TRACE} in exemplars


async def test_the_sampler_counts_running_sagas_and_the_oldest_age(new_uow, engine) -> None:
    old = Booking.create("dave", "Room", Decimal("1.00"))
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    async with new_uow() as uow:
        await uow.bookings.add(replace(old, created_at=an_hour_ago, updated_at=an_hour_ago))
        await uow.commit()
    await approved_booking(new_uow)
    await sample_running_sagas(engine)
    assert sample("booking_sagas_running", status="pending") >= 1
    assert sample("booking_sagas_running", status="approved") >= 1
    assert sample("booking_oldest_running_saga_age_seconds") >= 3600
