"""Operators ask every service to re-publish the events of sagas that stopped moving.

sagakit.reconcile tells the mechanism; `sagactl reconcile` calls these two routes.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from booking.service_layer import views
from booking.service_layer.unit_of_work import BookingUnitOfWork
from sagakit.api import RuntimeDep, problem, unit_of_work

router = APIRouter(prefix="/bookings", tags=["reconcile"])
UowDep = Annotated[BookingUnitOfWork, Depends(unit_of_work)]


class ReconcileRequested(BaseModel):
    """What was asked of every service."""

    booking_ids: list[uuid.UUID] = Field(
        description="The bookings whose events every service was asked to publish again."
    )
    channel: str = Field(description="The control channel the request went out on.")


@router.post("/reconcile", status_code=202, response_model=ReconcileRequested)
async def reconcile_stuck(runtime: RuntimeDep) -> ReconcileRequested:
    """Ask every service to re-publish the events of every stuck saga, now.

    Stuck: not final, and neither the booking nor its timeline changed for
    RECONCILE_AFTER_SECONDS; the periodic reconciler's backoff is not waited for.
    Answers the bookings asked about (none: nothing is stuck). Admin only.
    """
    ids = await runtime.reconcile_stuck(force=True)
    return ReconcileRequested(booking_ids=ids, channel=runtime.reconcile.name)


@router.post(
    "/{booking_id}/reconcile",
    status_code=202,
    response_model=ReconcileRequested,
    responses={404: problem("No booking with this id")},
)
async def reconcile_booking(
    booking_id: uuid.UUID, uow: UowDep, runtime: RuntimeDep
) -> ReconcileRequested:
    """Ask every service to re-publish its events of this booking, whatever its state.

    Safe at any time: consumers skip events they already handled. A service re-publishes
    a given event at most once per half RECONCILE_AFTER_SECONDS. Admin only.
    """
    await views.booking(booking_id, uow)  # 404 when there is no such booking
    await runtime.reconcile.request([booking_id], "manual")
    return ReconcileRequested(booking_ids=[booking_id], channel=runtime.reconcile.name)
