"""The faults, one per row: each is injected once while the load runs, then healed.

A row's `inject` runs at a random moment of the load and returns when the fault is
healed (the moment "time to recover" counts from). What it saw of readiness goes in
`notes`: a service must answer /readyz 503 while a server it needs is out of reach.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from sagabench.faults import inject
from sagabench.faults.rig import CUT_SERVICE, Rig
from sagactl.client import SERVICES

Notes = dict[str, Any]
Inject = Callable[[Rig, float, random.Random, Notes], Awaitable[None]]
CUT_SECONDS = 5.0


@dataclass(frozen=True)
class Row:
    """One fault: its name as shown in the table, how it is injected, what the load is."""

    name: str
    inject: Inject
    unpaid_share: float = 0.0  # customers who never pay (the clock row)
    env: dict[str, dict[str, str]] = field(default_factory=dict)


async def readiness(rig: Rig, names: tuple[str, ...], seconds: float) -> dict[str, bool]:
    """For `seconds`: which services answered /readyz 503 at least once (with a JSON body)."""
    seen = dict.fromkeys(names, False)
    end = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=2.5) as http:
        while time.monotonic() < end:
            for name in names:
                url = rig.services.endpoints().url(name) + "/readyz"
                try:
                    answer = await http.get(url)
                    said = answer.status_code == 503 and answer.json()["status"] == "unavailable"
                except (httpx.HTTPError, ValueError, KeyError):
                    continue  # down, or not the JSON answer: not a "not ready"
                seen[name] = seen[name] or said
            await asyncio.sleep(0.2)
    return seen


async def _signals(rig: Rig, duration: float, rng: random.Random, signum: int) -> None:
    # Each service once, each at its own random moment of the next half of the load (two
    # may be down together), restarted at once; healed when the last one is ready again.
    async def one(name: str) -> None:
        await asyncio.sleep(rng.uniform(0, duration / 2))
        await rig.restart(name, signum)

    await asyncio.gather(*(one(name) for name in SERVICES))


async def kill_9(rig: Rig, duration: float, rng: random.Random, notes: Notes) -> None:
    await _signals(rig, duration, rng, signal.SIGKILL)


async def sigterm(rig: Rig, duration: float, rng: random.Random, notes: Notes) -> None:
    await _signals(rig, duration, rng, signal.SIGTERM)


async def postgres_restart(rig: Rig, duration: float, rng: random.Random, notes: Notes) -> None:
    await rig.postgres.stop_fast()
    notes["not_ready_while_down"] = await readiness(rig, SERVICES, 3.0)
    await asyncio.to_thread(rig.postgres.start)


async def redis_restart(rig: Rig, duration: float, rng: random.Random, notes: Notes) -> None:
    await rig.redis.stop()
    notes["not_ready_while_down"] = await readiness(rig, SERVICES, 3.0)
    await rig.redis.start(aof=True)


async def redis_empty(rig: Rig, duration: float, rng: random.Random, notes: Notes) -> None:
    await rig.redis.come_back_empty()


def net_cut(server: str) -> Inject:
    async def cut(rig: Rig, duration: float, rng: random.Random, notes: Notes) -> None:
        healing = asyncio.create_task(rig.proxies[server].cut(CUT_SECONDS))
        seen = await readiness(rig, (CUT_SERVICE,), CUT_SECONDS - 0.5)
        notes["not_ready_while_down"] = seen
        await healing

    return cut


async def duplicates(rig: Rig, duration: float, rng: random.Random, notes: Notes) -> None:
    notes["injected"] = await inject.copies(rig, duration / 2, rng)


async def clock(rig: Rig, duration: float, rng: random.Random, notes: Notes) -> None:
    # Payment is down longer than the payment deadline: deadlines fall in the outage.
    await rig.services.kill("payment", signal.SIGKILL)
    await asyncio.sleep(CLOCK_DEADLINE_SECONDS * 2)
    await rig.services.start("payment", {"PAYMENT_TIMEOUT_SECONDS": str(CLOCK_DEADLINE_SECONDS)})
    if not await rig.services.wait_ready(("payment",), timeout=120):
        raise RuntimeError("payment did not come back")


CLOCK_DEADLINE_SECONDS = 4
ROWS = (
    Row("duplicated + reordered deliveries", duplicates),
    Row("kill -9 of each service", kill_9),
    Row("SIGTERM of each service (rolling update)", sigterm),
    Row("Postgres restart (fast shutdown)", postgres_restart),
    Row(
        f"network cut {CUT_SERVICE} <-> Postgres ({CUT_SECONDS:g} s)",
        net_cut("postgres"),
    ),
    Row(f"network cut {CUT_SERVICE} <-> Redis ({CUT_SECONDS:g} s)", net_cut("redis")),
    Row("Redis restart (AOF on)", redis_restart),
    Row(
        "clock: payment deadline during an outage",
        clock,
        unpaid_share=0.3,
        env={"payment": {"PAYMENT_TIMEOUT_SECONDS": str(CLOCK_DEADLINE_SECONDS)}},
    ),
    Row("Redis comes back empty", redis_empty),
)
