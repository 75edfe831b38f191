"""The booking HTTP API."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from booking.domain.commands import CreateBooking
from booking.domain.model import Booking, BookingStatus
from booking.entrypoints.schemas import BookingCreate, BookingPublic, TimelinePublic
from booking.service_layer import handlers, views
from booking.service_layer.unit_of_work import BookingFilter, BookingUnitOfWork
from sagakit.api import (
    BODY_REFUSED,
    ChangesDep,
    CustomerId,
    Page,
    PageDep,
    WaitSeconds,
    problem,
    unit_of_work,
)
from sagakit.authz import AccessDep
from sagakit.idempotency_api import IdempotencyDep, replayable
from sagakit.tracing import bound_to_booking

router = APIRouter(prefix="/bookings", tags=["bookings"])
UowDep = Annotated[BookingUnitOfWork, Depends(unit_of_work)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: problem("No booking with this id (for a customer: none of its own)")
}


CREATED = replayable(201, "The booking was created (or, replayed, created before)")


@router.post(
    "", status_code=201, response_model=BookingPublic, responses={**CREATED, **BODY_REFUSED}
)
async def create_booking(
    body: BookingCreate,
    uow: UowDep,
    access: AccessDep,
    response: Response,
    idempotency: IdempotencyDep,
) -> BookingPublic:
    """Create a pending booking and start its saga (publishes CREATED_BOOKING_EVENT).

    A customer books for itself (`customer_id` absent or its own); an admin books on
    behalf of the customer named by `customer_id`. A retry with the same
    `Idempotency-Key` answers the booking created first instead of a second one.
    """
    customer_id = access.booker(body.customer_id)
    command = CreateBooking(customer_id=customer_id, item=body.item, amount=body.amount)
    claim = idempotency.claim(Booking, BookingPublic.of, 201, _location)
    with bound_to_booking(str(command.booking_id)):
        booking = await handlers.create_booking(command, uow.claiming(claim))
    response.headers.update(_location(booking))
    return BookingPublic.of(booking)


def _location(booking: Booking) -> dict[str, str]:
    return {"Location": f"/bookings/{booking.id}"}


@router.get("/{booking_id}", response_model=BookingPublic, responses=NOT_FOUND)
async def get_booking(
    booking_id: uuid.UUID,
    uow: UowDep,
    access: AccessDep,
    changes: ChangesDep,
    wait_for: Annotated[
        list[BookingStatus] | None, Query(description="Statuses worth answering for.")
    ] = None,
    wait: WaitSeconds = 0,
) -> BookingPublic:
    """One booking and its current status.

    With `wait_for` and `wait`, answers as soon as the status is one of `wait_for`
    (e.g. `reserved`, `failed` and `rejected`: the saga ended), or after `wait` seconds.
    """
    read = partial(views.booking, booking_id, uow, access.owner)
    found = await changes.read(booking_id, read, wait_for, wait)
    return BookingPublic.of(found)


@router.get("/{booking_id}/timeline", response_model=TimelinePublic, responses=NOT_FOUND)
async def get_timeline(booking_id: uuid.UUID, uow: UowDep, access: AccessDep) -> TimelinePublic:
    """Every saga event of a booking in order, step times, trace id and what comes next."""
    return TimelinePublic.of(await views.saga_timeline(booking_id, uow, access.owner))


@router.get("", response_model=Page[BookingPublic])
async def list_bookings(
    uow: UowDep,
    access: AccessDep,
    page: PageDep,
    status: Annotated[BookingStatus | None, Query(description="Only this status.")] = None,
    customer_id: Annotated[CustomerId | None, Query(description="Only this customer.")] = None,
) -> Page[BookingPublic]:
    """Bookings, newest first, filtered by status and customer (a customer sees its own)."""
    where = BookingFilter(status=status, customer_id=access.customers(customer_id))
    found, total = await views.bookings(where, page.limit, page.offset, uow)
    items = [BookingPublic.of(booking) for booking in found]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)
