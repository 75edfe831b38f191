"""The payment HTTP API: customers' credit and payments of bookings."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from payment.domain.commands import SetCredit, SubmitPayment
from payment.domain.model import Payment, PaymentStatus
from payment.entrypoints.schemas import (
    CreditUpdate,
    CustomerPublic,
    PaymentCreate,
    PaymentPublic,
)
from payment.service_layer import handlers, views
from payment.service_layer.unit_of_work import PaymentFilter, PaymentUnitOfWork
from sagakit.api import (
    BODY_REFUSED,
    ChangesDep,
    CustomerId,
    CustomerIdPath,
    Page,
    PageDep,
    WaitSeconds,
    problem,
    unit_of_work,
)
from sagakit.authz import AccessDep
from sagakit.idempotency_api import IdempotencyDep, replayable
from sagakit.tracing import bound_to_booking

customer_router = APIRouter(prefix="/customers", tags=["customers"])
payment_router = APIRouter(prefix="/payments", tags=["payments"])
UowDep = Annotated[PaymentUnitOfWork, Depends(unit_of_work)]
NO_CUSTOMER: dict[int | str, dict[str, Any]] = {404: problem("No customer with this id")}
NO_PAYMENT: dict[int | str, dict[str, Any]] = {
    404: problem("No payment for this booking (for a customer: none of its own)")
}
NOT_BILLED: dict[int | str, dict[str, Any]] = {
    **NO_PAYMENT,
    409: problem(
        "The booking's bill has not arrived yet (retry shortly), or the payment expired"
        " unpaid (nothing is charged)"
    ),
    **replayable(200, "The payment, settled (or, replayed, as it was answered)"),
}


@customer_router.put("/{customer_id}/credit", response_model=CustomerPublic, responses=BODY_REFUSED)
async def set_credit(
    customer_id: CustomerIdPath, body: CreditUpdate, uow: UowDep
) -> CustomerPublic:
    """Set the customer's available credit to the amount (replaces it, never adds to it)."""
    customer = await handlers.set_credit(SetCredit(customer_id, body.amount), uow)
    return CustomerPublic.of(customer)


@customer_router.get("/{customer_id}", response_model=CustomerPublic, responses=NO_CUSTOMER)
async def get_customer(
    customer_id: CustomerIdPath, uow: UowDep, access: AccessDep
) -> CustomerPublic:
    """One customer and the credit still available (a customer: only itself)."""
    access.customer(customer_id)
    return CustomerPublic.of(await views.customer(customer_id, uow))


@payment_router.post("", response_model=PaymentPublic, responses={**NOT_BILLED, **BODY_REFUSED})
async def submit_payment(
    body: PaymentCreate, uow: UowDep, access: AccessDep, idempotency: IdempotencyDep
) -> PaymentPublic:
    """Pay one's own booking's bill from one's credit; resubmitting never charges twice."""
    command = SubmitPayment(body.booking_id, payer=access.owner)
    claim = idempotency.claim(Payment, PaymentPublic.of)
    with bound_to_booking(str(body.booking_id)):
        payment = await handlers.submit_payment(command, uow.claiming(claim))
    return PaymentPublic.of(payment)


@payment_router.get("/{booking_id}", response_model=PaymentPublic, responses=NO_PAYMENT)
async def get_payment(
    booking_id: uuid.UUID,
    uow: UowDep,
    access: AccessDep,
    changes: ChangesDep,
    wait_for: Annotated[
        list[PaymentStatus] | None, Query(description="Statuses worth answering for.")
    ] = None,
    wait: WaitSeconds = 0,
) -> PaymentPublic:
    """The payment request of one booking and its status.

    With `wait_for` and `wait`, answers as soon as the status is one of `wait_for`
    (e.g. `awaiting_payment`: the bill arrived), or after `wait` seconds; a 404 then means
    the bill has still not arrived.
    """
    read = partial(views.payment, booking_id, uow, access.owner)
    found = await changes.read(booking_id, read, wait_for, wait)
    return PaymentPublic.of(found)


@payment_router.get("", response_model=Page[PaymentPublic])
async def list_payments(
    uow: UowDep,
    access: AccessDep,
    page: PageDep,
    status: Annotated[PaymentStatus | None, Query(description="Only this status.")] = None,
    customer_id: Annotated[CustomerId | None, Query(description="Only this customer.")] = None,
) -> Page[PaymentPublic]:
    """Payments, newest first, filtered by status and customer (a customer sees its own)."""
    where = PaymentFilter(status=status, customer_id=access.customers(customer_id))
    found, total = await views.payments(where, page.limit, page.offset, uow)
    items = [PaymentPublic.of(payment) for payment in found]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)
