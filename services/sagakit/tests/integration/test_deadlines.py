"""The deadline loop in a running service: started once consuming, retried, stopped."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from typing import Any

import pytest

from sagakit import metrics
from sagakit.deadlines import Deadline, sweep_once
from sagakit.spec import ServiceSpec
from sagakit.testing import eventually

from .conftest import NAME, NotesUnitOfWork, messaging


class Sweeps:
    """A sweep that fails its first `failures` calls, then fires `due` deadlines once."""

    def __init__(self, failures: int = 0, due: int = 0) -> None:
        self.failures = failures
        self.due = due
        self.calls: list[datetime] = []

    async def sweep(self, uow: Any, now: datetime, limit: int) -> int:
        self.calls.append(now)
        if len(self.calls) <= self.failures:
            raise ConnectionError("the database is away")
        async with uow:  # a real unit of work of the service, as a real sweep uses
            fired, self.due = min(self.due, limit), self.due - min(self.due, limit)
            await uow.commit()
        return fired


@pytest.fixture
def sweeps() -> Sweeps:
    return Sweeps(failures=2, due=7)


@pytest.fixture
def notes_spec(notes_spec: ServiceSpec, sweeps: Sweeps) -> ServiceSpec:
    return dataclasses.replace(notes_spec, deadlines=(Deadline("ticks", sweeps.sweep),))


def fired(deadline: str) -> float:
    return metrics.DEADLINES_FIRED.labels("booking", deadline)._value.get()


async def test_a_running_service_sweeps_retries_after_errors_and_stops(
    start_runtime, sweeps: Sweeps
) -> None:
    before = fired("ticks")
    runtime = await start_runtime(deadline_sweep_seconds=0.05, deadline_batch_size=3)

    async def swept() -> bool:
        return sweeps.due == 0 and len(sweeps.calls) >= 6

    assert await eventually(swept)  # two failures, then batches of 3, 3, 1, then idle
    assert fired("ticks") - before == 7
    await runtime.stop()
    calls = len(sweeps.calls)
    await asyncio.sleep(0.2)
    assert len(sweeps.calls) == calls  # cancelled at shutdown


async def test_sweep_once_fires_batch_after_batch_until_a_short_one(engine) -> None:
    sweeps = Sweeps(due=10)

    def new_uow() -> NotesUnitOfWork:
        return NotesUnitOfWork(engine, messaging, NAME)

    assert await sweep_once(Deadline("batches", sweeps.sweep), new_uow, 4, NAME) == 10
    assert len(sweeps.calls) == 3  # 4, 4, 2
