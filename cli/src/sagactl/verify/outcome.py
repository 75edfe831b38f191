"""What a check found, and retrying a group of checks while the data is still on its way."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Outcome:
    """One pass/fail line: what was checked, whether it holds, and what was seen."""

    name: str
    ok: bool
    detail: str


Attempt = Callable[[], Awaitable[list[Outcome]]]


async def until_passing(attempt: Attempt, timeout: float, interval: float = 5.0) -> list[Outcome]:
    """Repeat `attempt` until all its outcomes pass or `timeout` seconds are over.

    Spans are batched (the SDK, the collector, Jaeger) and Prometheus scrapes and
    evaluates rules on intervals, so a first miss is expected; a miss at the end is not.
    """
    deadline = time.monotonic() + timeout
    while True:
        outcomes = await attempt()
        if all(outcome.ok for outcome in outcomes) or time.monotonic() + interval > deadline:
            return outcomes
        await asyncio.sleep(interval)


def http_failure(name: str, exc: httpx.HTTPError) -> Outcome:
    """A failed outcome for a call that got no usable answer (refused, timed out, error)."""
    return Outcome(name, False, f"{_where(exc)}: {exc.__class__.__name__}: {exc}")


def _where(exc: httpx.HTTPError) -> str:
    try:
        return str(exc.request.url.copy_with(query=None))
    except RuntimeError:  # an error raised without a request attached
        return "the backend"
