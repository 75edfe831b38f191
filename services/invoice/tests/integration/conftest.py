"""Real Postgres and Redis for the invoice service (fixtures from sagakit.pytest_plugin)."""

from __future__ import annotations

import pytest

from invoice.adapters.orm import messaging
from invoice.adapters.unit_of_work import SqlInvoiceUnitOfWork
from invoice.config import Settings
from invoice.entrypoints.app import create_app
from sagakit.pytest_plugin import ServiceUnderTest


@pytest.fixture(scope="session")
def service() -> ServiceUnderTest:
    return ServiceUnderTest("invoice", messaging, SqlInvoiceUnitOfWork, Settings, create_app)
