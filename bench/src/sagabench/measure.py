"""Latencies from server-side timestamps (the booking timeline) and exactly-once checks."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from sagabench.cluster import Deployment
from sagabench.driver import PRICE, RICH_CREDIT, SagaResult
from sagactl.auth import ADMIN


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50, p95, p99 and max (nearest rank), in milliseconds."""
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"p50": rank(0.50), "p95": rank(0.95), "p99": rank(0.99), "max": round(ordered[-1], 2)}


async def latencies(deployment: Deployment, results: list[SagaResult]) -> dict[str, Any]:
    """create->billed, pay->final and whole saga, from each booking's journal."""
    booking_url = deployment.endpoints()[0].url("booking")
    gate = asyncio.Semaphore(32)
    spans: dict[str, list[float]] = {"create_to_billed": [], "pay_to_final": [], "saga": []}
    admin = {"Authorization": f"Bearer {deployment.tokens().token(ADMIN)}"}  # reads all
    async with httpx.AsyncClient(timeout=30, headers=admin) as http:

        async def one(booking_id: str) -> None:
            async with gate:
                timeline = (await http.get(f"{booking_url}/bookings/{booking_id}/timeline")).json()
            for name, value in _spans(timeline).items():
                if value is not None:
                    spans[name].append(value)

        await asyncio.gather(*(one(r.booking_id) for r in results if r.ok and r.booking_id))
    return {name: percentiles(values) for name, values in spans.items()}


def _spans(timeline: dict[str, Any]) -> dict[str, float | None]:
    at = {step["event_type"]: _time(step["occurred_at"]) for step in timeline["steps"]}
    started, ended = _time(timeline["started_at"]), _time(timeline["ended_at"])
    billed = at.get("BILLED_BOOKING_EVENT")
    settled = ("PAID_BOOKING_EVENT", "INSUFFICIENT_FUND_EVENT", "PAYMENT_EXPIRED_EVENT")
    paid = next((at[event] for event in settled if event in at), None)
    return {
        "create_to_billed": (billed - started) * 1000 if billed else None,
        "pay_to_final": (ended - paid) * 1000 if paid and ended else None,
        "saga": float(timeline["duration_ms"]),
    }


def _time(value: str | None) -> float:
    return datetime.fromisoformat(value).timestamp() if value else 0.0


UNPUBLISHED = "SELECT count(*) FROM outbox WHERE published_at IS NULL"
OUTBOX_PATIENCE_SECONDS = 6.0


def effects(deployment: Deployment, results: list[SagaResult]) -> dict[str, int]:
    """Count lost and duplicated effects straight from the five databases."""
    reserved = sum(1 for r in results if r.final == "reserved")
    charged = Decimal(RICH_CREDIT) - Decimal(PRICE)
    queries = {
        "invoices": ("invoice", "SELECT count(*) FROM invoices"),
        "bills": ("billing", "SELECT count(*) FROM bills"),
        "charged_once": ("payment", "SELECT count(*) FROM customers WHERE credit = :charged"),
        "unfinished": (
            "booking",
            "SELECT count(*) FROM bookings WHERE status IN ('pending','approved')",
        ),
    }
    counts = {}
    for name, (service, sql) in queries.items():
        engine = create_engine(deployment.database_url(service))
        with engine.connect() as conn:
            counts[name] = int(conn.scalar(text(sql), {"charged": charged}) or 0)
        engine.dispose()
    counts["outbox_left"] = _outbox_left(deployment)
    started = sum(1 for r in results if r.booking_id)
    return {
        "reserved": reserved,
        "lost_or_duplicated_invoices": abs(counts["invoices"] - reserved),
        "lost_or_duplicated_bills": abs(counts["bills"] - started),
        "wrong_charges": abs(counts["charged_once"] - reserved),
        "unfinished_in_database": counts["unfinished"],
        "outbox_left": counts["outbox_left"],
    }


def _outbox_left(deployment: Deployment, patience: float = OUTBOX_PATIENCE_SECONDS) -> int:
    """Booking's outbox rows still unpublished once the relay had time to mark them.

    Published rows are kept for the reconciler; only unpublished ones are left over. A
    row is marked published up to MARK_DELAY_SECONDS after its publish, and a failed
    publish is swept after a grace of at most 5 s: a row counts only when it is still
    unpublished after `patience` seconds.
    """
    engine = create_engine(deployment.database_url("booking"))
    deadline = time.monotonic() + patience
    try:
        while True:
            with engine.connect() as conn:
                left = int(conn.scalar(text(UNPUBLISHED)) or 0)
            if left == 0 or time.monotonic() >= deadline:
                return left
            time.sleep(0.1)
    finally:
        engine.dispose()
