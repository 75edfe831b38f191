"""One row: the load starts, the fault comes at a random moment and is healed, every saga
is waited for, then the databases are read and the row's invariants judged."""

from __future__ import annotations

import asyncio
import random
import signal
import time
import uuid
from typing import Any

from sagabench.faults import checks
from sagabench.faults.load import Load
from sagabench.faults.rig import Rig
from sagabench.faults.rows import Row

FINISH_SECONDS = 90.0  # after the last saga started, at most this long for all to end
ZERO = ("stuck", "duplicate_effects", "lost_effects", "wrong_credit", "5xx_other_than_503")


async def run_row(
    rig: Rig, row: Row, sagas: int, rate: float, seed: int, finish: float = FINISH_SECONDS
) -> dict[str, Any]:
    """Run one row against a rig that is up; returns the row's figures and verdict.

    Every saga gets `finish` seconds after the last one started to end.
    """
    result: dict[str, Any] = {"fault": row.name, "transport": rig.transport}
    for name, env in row.env.items():
        await rig.restart(name, signal.SIGTERM, env)
    rng = random.Random(seed)
    tag = f"f{uuid.uuid4().hex[:6]}"
    load = Load(rig.services.endpoints(), rig.tokens(), tag, seed)
    duration = sagas / rate
    starting = asyncio.create_task(load.start(sagas, rate, unpaid_share=row.unpaid_share))
    await asyncio.sleep(rng.uniform(0.15, 0.45) * duration)
    notes: dict[str, Any] = {}
    try:
        await row.inject(rig, duration, rng, notes)
    except Exception as exc:  # the row fails; the rest still runs and is measured
        notes["inject_error"] = f"{exc.__class__.__name__}: {exc}"
    healed = time.monotonic()
    await starting
    await load.finish(finish)
    notes["ready_after"] = await rig.services.wait_ready(timeout=60)
    for name in row.env:  # back to the settings the other rows run with
        await rig.restart(name, signal.SIGTERM)
    result |= await checks.effects(rig, tag, load.sagas)
    # The sagas the fault caught: started before it was healed (the load goes on after).
    caught = [saga for saga in load.sagas if saga.started_at <= healed]
    ends = [saga.ended_at for saga in caught if saga.ended_at is not None]
    unpaid = [saga for saga in load.sagas if not saga.pays]
    result |= {
        "5xx_other_than_503": load.tally.bad_5xx,
        "proper_503": load.tally.proper_503,
        "connection_errors": load.tally.connection_errors,
        "bad_answers": load.tally.samples,
        # From healing the fault to the end of the last saga it caught; "never" when one
        # of them did not end.
        "time_to_recover_s": "never"
        if len(ends) < len(caught) or result["stuck"]
        else round(max([0.0, *(end - healed for end in ends)]), 1),
        "unpaid_not_expired": sum(1 for saga in unpaid if saga.final != "expired"),
        "client_errors": sorted({saga.error for saga in load.sagas if saga.error})[:3],
        "notes": notes,
    }
    result["failures"] = failures(result)
    result["passed"] = not result["failures"]
    return result


def failures(result: dict[str, Any]) -> list[str]:
    """Each invariant the row broke, in words ([] when it passed)."""
    broken = [f"{name} = {result[name]}" for name in ZERO if result[name]]
    if result["sagas_terminal"] < result["sagas_started"]:
        broken.append("not every saga ended")
    if result["unpaid_not_expired"]:
        broken.append(f"{result['unpaid_not_expired']} unpaid sagas did not expire")
    notes = result["notes"]
    if not notes.get("ready_after"):
        broken.append("a service was not ready after the fault")
    unready = notes.get("not_ready_while_down", {})
    if missing := [name for name, seen in unready.items() if not seen]:
        broken.append(f"/readyz never said 503 during the outage: {', '.join(missing)}")
    if result["client_errors"]:
        broken.append(f"a customer gave up: {result['client_errors'][0]}")
    if "inject_error" in notes:
        broken.append(notes["inject_error"])
    return broken
