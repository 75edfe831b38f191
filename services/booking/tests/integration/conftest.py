"""Real Postgres and Redis for the booking service (fixtures from sagakit.pytest_plugin)."""

from __future__ import annotations

import pytest

from booking.adapters.orm import messaging
from booking.adapters.unit_of_work import SqlBookingUnitOfWork
from booking.config import Settings
from booking.entrypoints.app import create_app
from sagakit.pytest_plugin import ServiceUnderTest


@pytest.fixture(scope="session")
def service() -> ServiceUnderTest:
    return ServiceUnderTest(
        "booking",
        messaging,
        SqlBookingUnitOfWork,
        Settings,
        create_app,
        examples={"POST /bookings": {"item": "Room 1", "amount": "10.00"}},
    )
