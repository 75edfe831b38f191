"""Real Postgres and Redis for the billing service (fixtures from sagakit.pytest_plugin)."""

from __future__ import annotations

import pytest

from billing.adapters.orm import messaging
from billing.adapters.unit_of_work import SqlBillingUnitOfWork
from billing.config import Settings
from billing.entrypoints.app import create_app
from sagakit.pytest_plugin import ServiceUnderTest


@pytest.fixture(scope="session")
def service() -> ServiceUnderTest:
    return ServiceUnderTest("billing", messaging, SqlBillingUnitOfWork, Settings, create_app)
