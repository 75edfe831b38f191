"""What each row must end with, read from the five services' own databases.

For the customers of one row: every booking terminal, one bill per billed booking and one
invoice per reserved one (no duplicate, none lost), one booking per customer (a retried
request never booked twice), and each customer's credit exactly its initial credit minus
the amounts of its reserved bookings.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from sagabench.faults.load import FINAL, Saga
from sagabench.faults.rig import Rig

BILLED = {"reserved", "failed", "expired"}  # a rejected booking never gets a bill


async def _rows(rig: Rig, service: str, sql: str, tag: str) -> list[Any]:
    engine = create_async_engine(rig.database_url(service))
    try:
        async with engine.connect() as conn:
            return list(await conn.execute(text(sql), {"pattern": f"{tag}-%"}))
    finally:
        await engine.dispose()


QUERIES = {
    "bookings": ("booking", "SELECT id::text, customer_id, status, amount FROM bookings"),
    "bills": ("billing", "SELECT booking_id::text, status FROM bills"),
    "invoices": ("invoice", "SELECT booking_id::text FROM invoices"),
    "credits": ("payment", "SELECT customer_id, credit FROM customers"),
}


async def effects(rig: Rig, tag: str, sagas: list[Saga]) -> dict[str, Any]:
    """Started, terminal, stuck, duplicate and lost effects, credit mismatches."""
    found = {
        name: await _rows(rig, service, f"{sql} WHERE customer_id LIKE :pattern", tag)
        for name, (service, sql) in QUERIES.items()
    }
    bookings = found["bookings"]
    bills = Counter(row[0] for row in found["bills"])
    bill_status = {row[0]: row[1] for row in found["bills"]}
    invoices = Counter(row[0] for row in found["invoices"])
    credits = {row[0]: Decimal(row[1]) for row in found["credits"]}
    per_customer = Counter(row.customer_id for row in bookings)
    known = {row.id for row in bookings}
    reserved: defaultdict[str, Decimal] = defaultdict(Decimal)
    for row in bookings:
        if row.status == "reserved":
            reserved[row.customer_id] += Decimal(row.amount)
    wrong_credit = [
        saga.customer
        for saga in sagas
        if credits.get(saga.customer) != saga.credit - reserved[saga.customer]
    ]
    duplicates = (
        sum(count - 1 for count in bills.values())
        + sum(count - 1 for count in invoices.values())
        + sum(count - 1 for count in per_customer.values())
    )
    lost = (
        sum(1 for row in bookings if row.status in BILLED and row.id not in bills)
        + sum(1 for row in bookings if row.status == "reserved" and row.id not in invoices)
        + sum(1 for saga in sagas if saga.booking_id and saga.booking_id not in known)
        # An expired booking's bill is cancelled (issue 10 part 1's compensation).
        + sum(
            1
            for row in bookings
            if row.status == "expired" and bill_status.get(row.id) != "cancelled"
        )
    )
    terminal = sum(1 for row in bookings if row.status in FINAL)
    return {
        "sagas_started": len(sagas),
        "sagas_terminal": terminal,
        # A customer whose booking never even got created is stuck too.
        "stuck": len(sagas) - terminal,
        "duplicate_effects": duplicates,
        "lost_effects": lost,
        "wrong_credit": len(wrong_credit),
        "statuses": dict(Counter(row.status for row in bookings)),
    }
