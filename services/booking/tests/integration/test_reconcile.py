"""Sagas that stopped moving are found, asked about with a backoff, and on an admin's request."""

import uuid
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select, update

from booking.adapters.orm import bookings, saga_journal, saga_reconciles
from booking.adapters.stuck import find_stuck
from booking.domain.commands import CreateBooking
from booking.service_layer import handlers
from sagakit.reconcile import Backoff

BACKOFF = Backoff(timedelta(seconds=60), timedelta(minutes=30))


class Sent:
    def __init__(self) -> None:
        self.ids: list[uuid.UUID] = []

    async def __call__(self, ids: list[uuid.UUID]) -> int:
        self.ids.extend(ids)
        return len(ids)


async def booking_idle_for(new_uow, engine, idle: timedelta, status: str = "pending") -> uuid.UUID:
    command = CreateBooking(customer_id="dora", item="Room", amount=Decimal("10.00"))
    booking = await handlers.create_booking(command, new_uow())
    async with engine.begin() as conn:
        changed = bookings.c.updated_at - idle
        await conn.execute(
            update(bookings)
            .where(bookings.c.id == booking.id)
            .values(updated_at=changed, created_at=changed, status=status)
        )
    return booking.id


async def attempts(engine, booking_id: uuid.UUID) -> int | None:
    query = select(saga_reconciles.c.attempts).where(saga_reconciles.c.booking_id == booking_id)
    async with engine.connect() as conn:
        return await conn.scalar(query)


async def test_a_saga_that_stopped_moving_is_asked_about_then_left_for_its_backoff(
    new_uow, engine
) -> None:
    stuck = await booking_idle_for(new_uow, engine, timedelta(minutes=5))
    moving = await booking_idle_for(new_uow, engine, timedelta(seconds=5))
    done = await booking_idle_for(new_uow, engine, timedelta(minutes=5), status="reserved")
    first, second, forced = Sent(), Sent(), Sent()

    assert stuck in await find_stuck(engine, BACKOFF, False, first)
    assert stuck in first.ids and moving not in first.ids and done not in first.ids
    assert await attempts(engine, stuck) == 1

    await find_stuck(engine, BACKOFF, False, second)
    assert stuck not in second.ids  # within its backoff: not nagged every round
    await find_stuck(engine, BACKOFF, True, forced)
    assert stuck in forced.ids  # an operator's --stuck does not wait
    assert await attempts(engine, stuck) == 2


async def test_a_recent_journal_entry_means_the_saga_moves(new_uow, engine) -> None:
    booking_id = await booking_idle_for(new_uow, engine, timedelta(minutes=5), "approved")
    async with engine.begin() as conn:  # billing's BILLED_BOOKING_EVENT, journaled just now
        await conn.execute(
            saga_journal.insert().values(
                event_id=uuid.uuid4(),
                booking_id=booking_id,
                event_type="BILLED_BOOKING_EVENT",
                producer="billing",
                occurred_at=func.now(),
                recorded_at=func.now(),
            )
        )
    sent = Sent()
    await find_stuck(engine, BACKOFF, True, sent)
    assert booking_id not in sent.ids


async def test_an_admin_asks_for_one_booking_or_every_stuck_one(client_as, client) -> None:
    created = await client_as("erin").post("/bookings", json={"item": "Room 3", "amount": "5"})
    booking_id = created.json()["id"]
    path = f"/bookings/{booking_id}/reconcile"

    asked = await client.post(path)
    assert asked.status_code == 202, asked.text
    assert asked.json()["booking_ids"] == [booking_id]
    assert asked.json()["channel"].endswith("saga.reconcile")
    assert (await client.post(f"/bookings/{uuid.uuid4()}/reconcile")).status_code == 404
    stuck = await client.post("/bookings/reconcile")
    assert stuck.status_code == 202 and booking_id not in stuck.json()["booking_ids"]  # moving

    assert (await client_as(None).post(path)).status_code == 401
    assert (await client_as("erin").post(path)).status_code == 403  # its own booking, too
    assert (await client_as("mia", "manager").post("/bookings/reconcile")).status_code == 403


async def test_readyz_is_503_while_a_subscriber_is_stopped(service_app, client) -> None:
    runtime = service_app.state.runtime
    stopped = runtime.bus.subscribers[0]
    await stopped.stop()  # as FastStream does on NOGROUP

    answer = await client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["consumers"].startswith("error: 1 of")
    assert await runtime.watchdog.round()  # its round restarts it in process
    assert (await client.get("/readyz")).status_code == 200
