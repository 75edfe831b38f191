"""Who may call what (sagakit.access.RULES) and a customer kept to its own account."""

import uuid

import pytest

from sagakit.access import matrix
from sagakit.testauth import assert_decision

from .test_api import send_bill, wait_for_payment


@pytest.mark.parametrize(("route", "role", "allowed"), matrix("payment"))
async def test_the_access_table_decides_who_may_call_each_route(
    call_as, route: str, role: str | None, allowed: bool
) -> None:
    assert_decision(await call_as(route, role), role, allowed)


async def test_a_customer_cannot_see_or_pay_another_customer_s_booking(
    client, client_as, redis, settings
) -> None:
    alice, bob = (f"{name}-{uuid.uuid4().hex[:8]}" for name in ("alice", "bob"))
    booking_id = await send_bill(redis, settings, alice, "30.00")
    await wait_for_payment(client, booking_id)
    for name in (alice, bob):
        await client.put(f"/customers/{name}/credit", json={"amount": "100.00"})
    as_bob = client_as(bob)
    paying = await as_bob.post("/payments", json={"booking_id": str(booking_id)})
    assert paying.status_code == 404
    assert paying.json() == {"detail": f"no payment for booking {booking_id}"}
    assert (await as_bob.get(f"/payments/{booking_id}")).status_code == 404
    for name in (alice, bob):  # nobody was charged
        assert (await client.get(f"/customers/{name}")).json()["credit"] == "100.00"
    assert (await client.get(f"/payments/{booking_id}")).json()["status"] == "awaiting_payment"
    paid = await client_as(alice).post("/payments", json={"booking_id": str(booking_id)})
    assert paid.json()["status"] == "paid"


async def test_a_customer_reads_and_lists_only_its_own(client, client_as, redis, settings) -> None:
    alice, bob = (f"{name}-{uuid.uuid4().hex[:8]}" for name in ("alice", "bob"))
    booking_id = await send_bill(redis, settings, alice, "30.00")
    await wait_for_payment(client, booking_id)
    await client.put(f"/customers/{alice}/credit", json={"amount": "5.00"})
    as_alice, as_bob = client_as(alice), client_as(bob)
    assert (await as_alice.get(f"/customers/{alice}")).json()["credit"] == "5.00"
    assert (await as_bob.get(f"/customers/{alice}")).status_code == 403
    assert (await as_alice.get("/payments")).json()["total"] == 1
    assert (await as_bob.get("/payments")).json()["total"] == 0
    assert (await as_bob.get("/payments", params={"customer_id": alice})).status_code == 403
    own_credit = await as_alice.put(f"/customers/{alice}/credit", json={"amount": "1000"})
    assert own_credit.status_code == 403  # only an admin sets credit
