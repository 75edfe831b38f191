"""The schema gate on a real database: behind, the service neither serves nor consumes
until it is migrated, then catches up; ahead (after a rollback), it serves with a warning."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import text

from payment.config import Settings
from payment.entrypoints.app import create_app
from sagakit.db import create_engine
from sagakit.events import BilledBooking, Envelope
from sagakit.migrations import migrate
from sagakit.testing import (
    DATABASE_PREFIX,
    REDIS_URL,
    code_head,
    consumed,
    drop_database,
    eventually,
    fresh_database,
    key_settings,
    running_app,
    unique_prefix,
    xadd_envelope,
)

HEAD = code_head("payment:migrations")


MIGRATIONS = "payment:migrations"


@pytest.fixture
async def empty_database() -> AsyncIterator[str]:
    """A database of its own, created but not migrated (the Job has not run yet)."""
    name = f"{DATABASE_PREFIX}payment_gate"
    yield await fresh_database(name)
    await drop_database(name)


async def send_bill(redis: Redis, settings: Settings, customer: str) -> uuid.UUID:
    """The BILLED_BOOKING_EVENT billing would publish."""
    event = BilledBooking(
        booking_id=uuid.uuid4(),
        bill_id=uuid.uuid4(),
        customer_id=customer,
        item="Room 7",
        amount=Decimal("12.00"),
    )
    envelope = Envelope.wrap(event, "billing", causation_id=None)
    await xadd_envelope(redis, f"{settings.event_prefix}BILLED_BOOKING_EVENT", envelope)
    return event.booking_id


def gated_settings(url: str, dev_key_file: Path) -> Settings:
    return Settings(
        database_url=url,
        redis_url=REDIS_URL,
        event_prefix=unique_prefix(),
        schema_check_seconds=0.1,
        auth_mode="dev",
        auth_dev_key_file=str(dev_key_file),
        **key_settings("payment"),
    )


async def group_entries(redis: Redis, stream: str) -> tuple[int, int]:
    """(unread, pending) of the payment group on a stream."""
    (group,) = [g for g in await redis.xinfo_groups(stream) if g["name"] == b"payment"]
    return int(group["lag"]), int(group["pending"])


async def test_behind_answers_503_and_consumes_nothing_until_migrated(
    empty_database: str, redis: Redis, dev_key_file: Path, bearer
) -> None:
    settings = gated_settings(empty_database, dev_key_file)
    async with running_app(create_app(settings), bearer("operator", "admin")) as client:
        booking_id = await send_bill(redis, settings, "gated")
        refused = await client.get(f"/payments/{booking_id}")
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert "schema is being migrated" in refused.json()["detail"]
        assert (
            await client.put("/customers/gated/credit", json={"amount": "50"})
        ).status_code == 503
        ready = await client.get("/readyz")  # ready all the same: see sagakit.health.readyz
        assert ready.status_code == 200
        assert ready.json()["checks"]["schema"] == f"behind: database at no schema, code at {HEAD}"
        await asyncio.sleep(0.5)  # five re-checks of the schema: the event must stay unread
        stream = f"{settings.event_prefix}BILLED_BOOKING_EVENT"
        assert await group_entries(redis, stream) == (1, 0)

        await migrate(MIGRATIONS, empty_database)  # the Job's work

        async def paid_request_opened() -> bool:
            return (await client.get(f"/payments/{booking_id}")).status_code == 200

        assert await eventually(paid_request_opened)
        payment = (await client.get(f"/payments/{booking_id}")).json()
        assert payment["status"] == "awaiting_payment"
        assert await eventually(lambda: consumed(redis, stream, "payment"))
        assert (await client.get("/readyz")).json()["checks"]["schema"].startswith("current")


async def test_a_database_ahead_of_the_code_serves_and_consumes_with_a_warning(
    empty_database: str,
    redis: Redis,
    caplog: pytest.LogCaptureFixture,
    dev_key_file: Path,
    bearer,
) -> None:
    await migrate(MIGRATIONS, empty_database)
    engine = create_engine(empty_database)
    async with engine.begin() as conn:  # a newer release's expand migration ran
        await conn.execute(text("UPDATE alembic_version SET version_num = '0099_newer'"))
    await engine.dispose()
    settings = gated_settings(empty_database, dev_key_file)
    with caplog.at_level(logging.WARNING, logger="sagakit.schema"):
        async with running_app(create_app(settings), bearer("operator", "admin")) as client:
            booking_id = await send_bill(redis, settings, "ahead")

            async def served() -> bool:
                return (await client.get(f"/payments/{booking_id}")).status_code == 200

            assert await eventually(served)
            schema = (await client.get("/readyz")).json()["checks"]["schema"]
            assert schema == f"ahead: database at 0099_newer, code at {HEAD}"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("ahead of this code" in message for message in warnings), warnings
