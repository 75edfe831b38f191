"""What the outside world asks the manager service to do."""

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class ApproveBooking:
    """A manager lets a pending booking go on to billing."""

    booking_id: uuid.UUID


@dataclass(frozen=True)
class RejectBooking:
    """A manager stops a pending booking, saying why."""

    booking_id: uuid.UUID
    reason: str
