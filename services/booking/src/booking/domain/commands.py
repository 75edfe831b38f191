"""What the outside world asks the booking service to do."""

import uuid
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class CreateBooking:
    """A customer asks to book an item for an amount.

    The id is chosen by the caller so the request can be tagged with it (trace
    baggage, logs) before anything is stored.
    """

    customer_id: str
    item: str
    amount: Decimal
    booking_id: uuid.UUID = field(default_factory=uuid.uuid4)
