"""Real Postgres and Redis for the manager service (fixtures from sagakit.pytest_plugin).
Manual mode: approvals wait for a decision over HTTP.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from manager.adapters.orm import messaging
from manager.adapters.unit_of_work import SqlManagerUnitOfWork
from manager.config import Settings
from manager.entrypoints.app import create_app
from manager.service_layer import handlers
from sagakit.events import CreatedBooking
from sagakit.pytest_plugin import ServiceUnderTest

TIMEOUT = timedelta(days=1)


@pytest.fixture(scope="session")
def service() -> ServiceUnderTest:
    return ServiceUnderTest(
        "manager",
        messaging,
        SqlManagerUnitOfWork,
        Settings,
        create_app,
        settings_overrides={"auto_approve": False},
        examples={"POST /approvals/{booking_id}/reject": {"reason": "full"}},
    )


@pytest.fixture
def pending(
    new_uow: Callable[[], SqlManagerUnitOfWork],
) -> Callable[..., Awaitable[uuid.UUID]]:
    """Store a pending approval as if CREATED_BOOKING_EVENT had arrived in manual mode."""

    async def store(customer_id: str = "alice", amount: str = "120.00") -> uuid.UUID:
        event = CreatedBooking(
            booking_id=uuid.uuid4(), customer_id=customer_id, item="Room 7", amount=Decimal(amount)
        )
        await handlers.created_booking(event, new_uow(), auto_approve=False, timeout=TIMEOUT)
        return event.booking_id

    return store
