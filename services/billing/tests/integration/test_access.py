"""Who may call what (sagakit.access.RULES) and a customer kept to its own bills."""

import uuid

import pytest

from sagakit.access import matrix
from sagakit.testauth import assert_decision

from .test_api import approval, bill_in, deliver


@pytest.mark.parametrize(("route", "role", "allowed"), matrix("billing"))
async def test_the_access_table_decides_who_may_call_each_route(
    call_as, route: str, role: str | None, allowed: bool
) -> None:
    assert_decision(await call_as(route, role), role, allowed)


async def test_a_customer_sees_its_own_bills_and_no_one_else_s(
    client, client_as, redis, settings
) -> None:
    alice, bob = (f"{name}-{uuid.uuid4().hex[:8]}" for name in ("alice", "bob"))
    approved = approval(alice)
    await deliver(redis, settings, approved)
    await bill_in(client, approved.booking_id, "pending")
    path = f"/bills/{approved.booking_id}"
    assert (await client_as(alice).get(path)).status_code == 200
    other = await client_as(bob).get(path)
    assert other.status_code == 404
    assert other.json() == {"detail": f"no bill for booking {approved.booking_id}"}
    assert (await client_as(alice).get("/bills")).json()["total"] == 1
    assert (await client_as(bob).get("/bills")).json()["total"] == 0
    assert (await client_as(bob).get("/bills", params={"customer_id": alice})).status_code == 403
