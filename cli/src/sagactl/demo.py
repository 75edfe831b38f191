"""The demo: one booking reserved, then one failed by compensation, printed step by step.

Each step is made by whom the services allow: the admin sets the credit, the customer
books and pays, the manager approves (in manual mode); the admin reads the five services.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rich.console import Console

from sagactl.client import SagaClient
from sagactl.render import Record, describe, status_table

FINAL = {"reserved", "rejected", "failed", "expired"}


@dataclass
class Saga:
    """One booking being followed."""

    booking_id: str
    customer: str
    started: float = field(default_factory=time.monotonic)
    seen: dict[str, str] = field(default_factory=dict)
    paid: bool = False
    approved: bool = False
    pending_since: float | None = None


@dataclass
class Demo:
    """How the demo went: the verdict, and each booking's final status by booking id."""

    ok: bool
    bookings: dict[str, str]


async def run_demo(client: SagaClient, console: Console, timeout: float = 30.0) -> Demo:
    """Run both scenarios; ok when each saga ended as the pattern promises."""
    suffix = uuid.uuid4().hex[:6]
    console.rule("[bold]1. Alice has enough credit: the saga completes")
    happy = await scenario(client, console, f"alice-{suffix}", Decimal("500.00"), timeout)
    console.rule("[bold]2. Bob has too little credit: compensation")
    failed = await scenario(client, console, f"bob-{suffix}", Decimal("50.00"), timeout)
    ok = _ended(happy[1], "reserved", "invoice") and _ended(failed[1], "failed", "billing")
    console.print("[green]Both sagas ended as expected." if ok else "[red]A saga went wrong.")
    return Demo(ok, {booking: _status(snapshot) for booking, snapshot in (happy, failed)})


async def scenario(
    client: SagaClient, console: Console, customer: str, credit: Decimal, timeout: float
) -> tuple[str, dict[str, Record]]:
    """Top up, book, pay when billed, and follow until the booking is final."""
    await client.set_credit(customer, credit)
    console.print(f"payment: credit of [bold]{customer}[/] set to {credit}")
    booking = await client.book(customer, "Sea-view room, 2 nights", Decimal("120.00"))
    saga = Saga(booking["id"], customer)
    console.print(f"booking: created {saga.booking_id} for 120.00")
    snapshot = await follow(client, console, saga, timeout)
    console.print(status_table(saga.booking_id, snapshot))
    return saga.booking_id, snapshot


async def follow(
    client: SagaClient, console: Console, saga: Saga, timeout: float
) -> dict[str, Record]:
    """Poll all five services and print every change until the saga is over."""
    deadline = time.monotonic() + timeout
    while True:
        snapshot = await client.snapshot(saga.booking_id)
        _print_changes(console, saga, snapshot)
        await _act(client, console, saga, snapshot)
        if _finished(snapshot) or time.monotonic() > deadline:
            return snapshot
        await asyncio.sleep(0.05)


def _print_changes(console: Console, saga: Saga, snapshot: dict[str, Record]) -> None:
    for service, record in snapshot.items():
        line = describe(service, record)
        if record is not None and saga.seen.get(service) != line:
            saga.seen[service] = line
            elapsed = time.monotonic() - saga.started
            console.print(f"  [dim]+{elapsed:6.3f}s[/] [cyan]{service:<8}[/] {line}")


async def _act(
    client: SagaClient, console: Console, saga: Saga, snapshot: dict[str, Record]
) -> None:
    payment, approval = snapshot.get("payment"), snapshot.get("manager")
    if isinstance(payment, dict) and payment["status"] == "awaiting_payment" and not saga.paid:
        saga.paid = True
        console.print(f"  [bold]{saga.customer} submits the payment[/]")
        await client.pay(saga.booking_id, saga.customer)
    if isinstance(approval, dict) and approval["status"] == "pending" and not saga.approved:
        saga.pending_since = saga.pending_since or time.monotonic()
        if time.monotonic() - saga.pending_since > 1.0:  # manual approval mode
            saga.approved = True
            console.print("  [bold]manager approves (AUTO_APPROVE is off)[/]")
            await client.decide(saga.booking_id, approve=True)


def _finished(snapshot: dict[str, Record]) -> bool:
    booking, invoice, bill = (
        snapshot.get("booking"),
        snapshot.get("invoice"),
        snapshot.get("billing"),
    )
    if not isinstance(booking, dict) or booking["status"] not in FINAL:
        return False
    if booking["status"] == "reserved":
        return isinstance(invoice, dict)
    if booking["status"] in ("failed", "expired"):  # the bill is compensated too
        settled = {"failed": "failed", "expired": "cancelled"}[booking["status"]]
        return isinstance(bill, dict) and bill["status"] == settled
    return True


def _status(snapshot: dict[str, Record]) -> str:
    booking = snapshot.get("booking")
    return str(booking["status"]) if isinstance(booking, dict) else "unknown"


def _ended(snapshot: dict[str, Any], status: str, witness: str) -> bool:
    booking, other = snapshot.get("booking"), snapshot.get(witness)
    if not isinstance(booking, dict) or booking["status"] != status:
        return False
    if witness == "billing":
        return isinstance(other, dict) and other["status"] == "failed"
    return isinstance(other, dict)
