"""HTTP request and response bodies of the payment API."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from payment.domain.model import Customer, Payment, PaymentStatus
from sagakit.api import Amount, StrictBody


class CreditUpdate(StrictBody):
    """The customer's new available credit: it replaces the old one, it is not added to it."""

    amount: Amount = Field(description="The available credit after the call (set, not added).")


class CustomerPublic(BaseModel):
    """A customer and the credit available to pay bills."""

    customer_id: str
    credit: Decimal
    updated_at: datetime

    @classmethod
    def of(cls, customer: Customer) -> CustomerPublic:
        """Copy a domain customer into the response shape."""
        return cls(
            customer_id=customer.customer_id,
            credit=customer.credit,
            updated_at=customer.updated_at,
        )


class PaymentCreate(StrictBody):
    """Which booking's bill to pay."""

    booking_id: uuid.UUID


class PaymentPublic(BaseModel):
    """A booking's payment request as the API shows it."""

    booking_id: uuid.UUID
    bill_id: uuid.UUID
    customer_id: str
    item: str
    amount: Decimal
    amount_due: Decimal
    status: PaymentStatus
    created_at: datetime
    settled_at: datetime | None
    expires_at: datetime | None = Field(
        description="The deadline: still awaiting payment then, it expires (null: never)."
    )

    @classmethod
    def of(cls, payment: Payment) -> PaymentPublic:
        """Copy a domain payment into the response shape."""
        return cls(
            booking_id=payment.booking_id,
            bill_id=payment.bill_id,
            customer_id=payment.customer_id,
            item=payment.item,
            amount=payment.amount,
            amount_due=payment.amount_due,
            status=payment.status,
            created_at=payment.created_at,
            settled_at=payment.settled_at,
            expires_at=payment.expires_at,
        )
