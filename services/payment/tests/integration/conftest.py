"""Real Postgres and Redis for the payment service (fixtures from sagakit.pytest_plugin)."""

from __future__ import annotations

import uuid

import pytest

from payment.adapters.orm import messaging
from payment.adapters.unit_of_work import SqlPaymentUnitOfWork
from payment.config import Settings
from payment.entrypoints.app import create_app
from sagakit.pytest_plugin import ServiceUnderTest


@pytest.fixture(scope="session")
def service() -> ServiceUnderTest:
    return ServiceUnderTest(
        "payment",
        messaging,
        SqlPaymentUnitOfWork,
        Settings,
        create_app,
        examples={
            "PUT /customers/{customer_id}/credit": {"amount": "10.00"},
            "POST /payments": {"booking_id": str(uuid.uuid4())},
        },
    )
