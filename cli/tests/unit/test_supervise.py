"""`sagactl up` starts again a service that ended on its own, as Kubernetes would."""

import asyncio
from types import SimpleNamespace

from sagactl import devstack


class FakeStack:
    def __init__(self, deaths: list[str | None]) -> None:
        self.processes = {name: SimpleNamespace(returncode=1) for name in ("booking", "invoice")}
        self.deaths = deaths
        self.started: list[str] = []

    async def wait_exit(self, stop: asyncio.Event) -> str | None:
        return self.deaths.pop(0)

    async def start(self, name: str) -> None:
        self.started.append(name)


async def test_a_service_that_exits_is_started_again_until_asked_to_stop() -> None:
    stack = FakeStack(["invoice", "booking", None])
    assert await devstack._supervise(stack, asyncio.Event()) == 0  # type: ignore[arg-type]
    assert stack.started == ["invoice", "booking"]


async def test_a_service_that_keeps_exiting_stops_the_stack() -> None:
    stack = FakeStack(["invoice"] * (devstack.RESTARTS + 1))
    assert await devstack._supervise(stack, asyncio.Event()) == 1  # type: ignore[arg-type]
    assert stack.started == ["invoice"] * devstack.RESTARTS
