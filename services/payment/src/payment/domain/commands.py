"""What the outside world asks the payment service to do."""

import uuid
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class SetCredit:
    """Make a customer's available credit exactly this amount (set, not add)."""

    customer_id: str
    amount: Decimal


@dataclass(frozen=True)
class SubmitPayment:
    """Pay the bill of a booking from its customer's credit.

    `payer`, when given, must be the booking's customer: anyone else is told there is
    no such payment.
    """

    booking_id: uuid.UUID
    payer: str | None = None
