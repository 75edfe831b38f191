"""What the outside world asks the booking service to do."""

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class CreateBooking:
    """A customer asks to book an item for an amount."""

    customer_id: str
    item: str
    amount: Decimal
