"""Who may call what (sagakit.access.RULES) and a customer kept to its own invoices."""

import uuid

import pytest

from sagakit.access import matrix
from sagakit.testauth import assert_decision
from sagakit.testing import eventually

from .test_api import deliver, invoiced, paid_envelope


@pytest.mark.parametrize(("route", "role", "allowed"), matrix("invoice"))
async def test_the_access_table_decides_who_may_call_each_route(
    call_as, route: str, role: str | None, allowed: bool
) -> None:
    assert_decision(await call_as(route, role), role, allowed)


async def test_a_customer_sees_its_own_invoices_and_no_one_else_s(
    client, client_as, redis, settings
) -> None:
    alice, bob = (f"{name}-{uuid.uuid4().hex[:8]}" for name in ("alice", "bob"))
    booking_id = uuid.uuid4()
    await deliver(redis, settings, paid_envelope(booking_id, alice))
    assert await eventually(lambda: invoiced(client, booking_id))
    path = f"/invoices/{booking_id}"
    assert (await client_as(alice).get(path)).status_code == 200
    other = await client_as(bob).get(path)
    assert other.status_code == 404
    assert other.json() == {"detail": f"no invoice for booking {booking_id}"}
    assert (await client_as(alice).get("/invoices")).json()["total"] == 1
    assert (await client_as(bob).get("/invoices")).json()["total"] == 0
    spying = await client_as(bob).get("/invoices", params={"customer_id": alice})
    assert spying.status_code == 403
