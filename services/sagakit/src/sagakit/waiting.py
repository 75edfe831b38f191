"""Waiting: for a server at start (retry while it does not answer, then fail saying so),
and for a background task to end once cancelled.

A pod often starts next to its Postgres or Redis, before they accept connections.
`migrate --wait` and the service's start retry for a configured number of seconds
instead of crashing into a restart loop.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

ATTEMPT_SECONDS = 5.0  # a connect that hangs (dropped packets) counts as one failed attempt


class NotReachable(RuntimeError):
    """A server did not answer within the time allowed."""


async def retry(
    action: Callable[[], Awaitable[object]],
    *,
    wait: float,
    errors: tuple[type[Exception], ...],
    what: str,
    interval: float = 1.0,
) -> None:
    """Run `action`; while it raises one of `errors`, try again every `interval` seconds.

    Each failed attempt logs a warning. After `wait` seconds the last failure is raised
    as `NotReachable`, with a message naming `what` and the reason.
    """
    retried: tuple[type[Exception], ...] = (*errors, TimeoutError)
    deadline = time.monotonic() + wait
    for attempt in itertools.count(1):
        try:
            async with asyncio.timeout(ATTEMPT_SECONDS):
                await action()
            return
        except retried as exc:
            if time.monotonic() >= deadline:
                message = f"{what} did not answer within {wait:g} s ({reason(exc)})"
                raise NotReachable(message) from exc
            log.warning(
                "%s not reachable yet (attempt %d: %s); retrying", what, attempt, reason(exc)
            )
        await asyncio.sleep(interval)


def reason(exc: BaseException) -> str:
    """A one-line reason: the driver's own error when SQLAlchemy wraps one."""
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip().splitlines()
    return text[0] if text else inner.__class__.__name__


async def cancel(task: asyncio.Task[None] | None) -> None:
    """Cancel a task and wait until it has ended."""
    # A cancellation can be absorbed by a driver mid-call; ask again until the task ends.
    while task is not None and not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
