"""Read-only queries for the HTTP API."""

from __future__ import annotations

import uuid

from payment.domain.model import Customer, Payment
from payment.service_layer.unit_of_work import PaymentFilter, PaymentUnitOfWork
from sagakit.errors import NotFound


async def customer(customer_id: str, uow: PaymentUnitOfWork) -> Customer:
    """One customer and its credit; raises NotFound."""
    async with uow.reading():
        found = await uow.customers.get(customer_id)
    if found is None:
        raise NotFound(f"customer {customer_id} not found")
    return found


async def payment(
    booking_id: uuid.UUID, uow: PaymentUnitOfWork, owner: str | None = None
) -> Payment:
    """The payment of one booking (only if `owner` is its customer, when given); NotFound."""
    async with uow.reading():
        found = await uow.payments.get(booking_id)
    # Another customer's payment is answered like a missing one: its existence is not revealed.
    if found is None or (owner is not None and found.customer_id != owner):
        raise NotFound(f"no payment for booking {booking_id}")
    return found


async def payments(
    where: PaymentFilter, limit: int, offset: int, uow: PaymentUnitOfWork
) -> tuple[list[Payment], int]:
    """A page of payments, newest first, and how many match in total."""
    async with uow.reading():
        return await uow.payments.find(where, limit, offset)
