"""One handler per command and per event the manager service receives."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

from manager.domain.commands import ApproveBooking, RejectBooking
from manager.domain.model import Approval
from manager.service_layer.unit_of_work import ManagerUnitOfWork
from sagakit.errors import NotFound
from sagakit.events import CreatedBooking, EventType
from sagakit.uow import Handler


async def created_booking(
    event: CreatedBooking, uow: ManagerUnitOfWork, *, auto_approve: bool, timeout: timedelta
) -> None:
    """CREATED_BOOKING_EVENT: a pending approval due within `timeout`, or approved at once."""
    async with uow:
        approval = Approval.request(
            event.booking_id,
            event.customer_id,
            event.item,
            event.amount,
            None if auto_approve else timeout,
        )
        if auto_approve:
            approval.approve()
        # The booking id is the natural key: a second CREATED event for the booking (a
        # republish with a new event id, which the inbox lets through) adds nothing.
        await uow.approvals.add(approval)
        await uow.commit()  # also when it existed: the inbox row marks the event as seen


async def approve_booking(cmd: ApproveBooking, uow: ManagerUnitOfWork) -> Approval:
    """Approve a pending booking and raise APPROVED_BOOKING_EVENT in the same transaction."""
    return await _decide(uow, cmd.booking_id, lambda approval: approval.approve())


async def reject_booking(cmd: RejectBooking, uow: ManagerUnitOfWork) -> Approval:
    """Reject a pending booking and raise REJECTED_BOOKING_EVENT in the same transaction."""
    return await _decide(uow, cmd.booking_id, lambda approval: approval.reject(cmd.reason))


async def _decide(
    uow: ManagerUnitOfWork, booking_id: uuid.UUID, decide: Callable[[Approval], bool]
) -> Approval:
    async with uow:
        approval = await uow.approvals.get(booking_id, for_update=True)
        if approval is None:
            raise NotFound(f"no approval for booking {booking_id}")
        if approval.time_out(datetime.now(UTC)):  # the sweep has not come by yet
            await uow.approvals.save(approval)
            await uow.commit()
        if decide(approval):  # after a time-out: Conflict
            await uow.approvals.save(approval)
        await uow.commit()  # also when nothing changed: an idempotency key is stored
    return approval


async def reject_overdue_approvals(uow: ManagerUnitOfWork, now: datetime, limit: int) -> int:
    """The deadline sweep: up to `limit` approvals pending past their deadline are rejected."""
    async with uow:
        due = await uow.approvals.due(now, limit)
        for approval in due:
            if approval.time_out(now):
                await uow.approvals.save(approval)
        await uow.commit()
    return len(due)


def event_handlers(auto_approve: bool, timeout: timedelta) -> dict[EventType, Handler]:
    """The events the manager subscribes to, with the approval settings bound in."""
    return {
        EventType.CREATED_BOOKING_EVENT: partial(
            created_booking, auto_approve=auto_approve, timeout=timeout
        ),
    }
