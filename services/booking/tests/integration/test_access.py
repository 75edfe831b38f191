"""Who may call what (sagakit.access.RULES) and a customer kept to its own bookings."""

import uuid

import pytest

from sagakit.access import OPEN_PATHS, matrix
from sagakit.testauth import assert_decision


@pytest.mark.parametrize(("route", "role", "allowed"), matrix("booking"))
async def test_the_access_table_decides_who_may_call_each_route(
    call_as, route: str, role: str | None, allowed: bool
) -> None:
    assert_decision(await call_as(route, role), role, allowed)


async def alice_and_her_booking(client_as) -> tuple[str, str]:
    alice = f"alice-{uuid.uuid4().hex[:8]}"
    created = await client_as(alice).post("/bookings", json={"item": "Room 7", "amount": "9"})
    assert created.status_code == 201, created.text
    return alice, created.json()["id"]


async def test_another_customers_booking_and_timeline_are_not_found(client_as, client) -> None:
    _, booking_id = await alice_and_her_booking(client_as)
    bob = client_as("bob")
    for path in (f"/bookings/{booking_id}", f"/bookings/{booking_id}/timeline"):
        response = await bob.get(path)
        assert response.status_code == 404
        assert response.json() == {"detail": f"booking {booking_id} not found"}  # as if missing
        assert (await client.get(path)).status_code == 200  # staff read every booking
    waited = await bob.get(f"/bookings/{booking_id}", params={"wait_for": "pending", "wait": 0.2})
    assert waited.status_code == 404


async def test_a_customer_lists_only_its_own_bookings(client_as, client) -> None:
    alice, booking_id = await alice_and_her_booking(client_as)
    bob = client_as(f"bob-{uuid.uuid4().hex[:8]}")
    assert (await bob.post("/bookings", json={"item": "Room 8", "amount": "1"})).status_code == 201
    listed = (await bob.get("/bookings", params={"limit": 500})).json()
    assert listed["total"] == 1 and booking_id not in {b["id"] for b in listed["items"]}
    spying = await bob.get("/bookings", params={"customer_id": alice})
    assert spying.status_code == 403
    assert "its own" in spying.json()["detail"]
    assert (await client_as(alice).get("/bookings")).json()["items"][0]["id"] == booking_id
    assert (await client.get("/bookings", params={"customer_id": alice})).json()["total"] == 1


async def test_a_customer_cannot_book_as_someone_else(client_as) -> None:
    response = await client_as("bob").post(
        "/bookings", json={"customer_id": "alice", "item": "Room 7", "amount": "1"}
    )
    assert response.status_code == 403
    assert response.headers["www-authenticate"].startswith(
        'Bearer realm="saga", error="insufficient'
    )
    own = {"customer_id": "bob", "item": "Room 7", "amount": "1"}
    assert (await client_as("bob").post("/bookings", json=own)).status_code == 201


async def test_a_subject_that_is_no_customer_id_may_not_act_as_a_customer(client_as) -> None:
    for subject in ("-starts-with-a-dash", "x" * 65, "spaces are not allowed"):
        response = await client_as(subject).get("/bookings")
        assert response.status_code == 403
        assert "customer id" in response.json()["detail"]


async def test_the_openapi_document_shows_the_bearer_scheme_and_the_refusals(client) -> None:
    openapi = (await client.get("/openapi.json")).json()
    assert openapi["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": openapi["components"]["securitySchemes"]["bearer"]["description"],
    }
    for path, methods in openapi["paths"].items():
        for method, operation in methods.items():
            if path in OPEN_PATHS:
                assert "security" not in operation, f"{method} {path}"
                continue
            assert operation["security"] == [{"bearer": []}], f"{method} {path}"
            assert {"401", "403"} <= operation["responses"].keys(), f"{method} {path}"
