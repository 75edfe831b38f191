import uuid

from sagakit.testing import code_head

HEAD = code_head("manager:migrations")


async def test_a_pending_approval_can_be_read(client, pending) -> None:
    booking_id = await pending(amount="120.5")
    response = await client.get(f"/approvals/{booking_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["booking_id"] == str(booking_id)
    assert body["status"] == "pending" and body["amount"] == "120.50"
    assert body["reason"] is None and body["decided_at"] is None


async def test_approve_returns_the_decision_and_is_idempotent(client, pending) -> None:
    booking_id = await pending()
    first = await client.post(f"/approvals/{booking_id}/approve")
    assert first.status_code == 200
    assert first.json()["status"] == "approved" and first.json()["decided_at"] is not None
    again = await client.post(f"/approvals/{booking_id}/approve")
    assert again.status_code == 200
    assert again.json()["decided_at"] == first.json()["decided_at"]


async def test_reject_with_a_reason(client, pending) -> None:
    booking_id = await pending()
    response = await client.post(f"/approvals/{booking_id}/reject", json={"reason": "full"})
    assert response.status_code == 200
    assert response.json()["status"] == "rejected" and response.json()["reason"] == "full"


async def test_reject_without_a_body_uses_the_default_reason(client, pending) -> None:
    booking_id = await pending()
    response = await client.post(f"/approvals/{booking_id}/reject")
    assert response.status_code == 200
    assert response.json()["reason"] == "rejected by manager"


async def test_reversing_a_decision_is_a_409(client, pending) -> None:
    approved, rejected = await pending(), await pending()
    await client.post(f"/approvals/{approved}/approve")
    await client.post(f"/approvals/{rejected}/reject", json={"reason": "full"})
    conflict = await client.post(f"/approvals/{approved}/reject")
    assert conflict.status_code == 409
    assert "already approved" in conflict.json()["detail"]
    assert (await client.post(f"/approvals/{rejected}/approve")).status_code == 409
    assert (await client.get(f"/approvals/{rejected}")).json()["reason"] == "full"


async def test_unknown_booking_is_a_404_everywhere(client) -> None:
    unknown = uuid.uuid4()
    assert (await client.get(f"/approvals/{unknown}")).status_code == 404
    assert (await client.post(f"/approvals/{unknown}/approve")).status_code == 404
    assert (await client.post(f"/approvals/{unknown}/reject")).status_code == 404


async def test_malformed_id_is_a_422_naming_the_path(client) -> None:
    for method, path in [
        ("GET", "/approvals/not-a-uuid"),
        ("POST", "/approvals/not-a-uuid/approve"),
        ("POST", "/approvals/not-a-uuid/reject"),
    ]:
        response = await client.request(method, path)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["path", "booking_id"]


async def test_bad_rejection_body_is_a_422_naming_the_field(client, pending) -> None:
    booking_id = await pending()
    cases = {
        "extra": {"reason": "full", "extra": True},
        "reason": {"reason": ""},
    }
    for field, body in cases.items():
        response = await client.post(f"/approvals/{booking_id}/reject", json=body)
        assert response.status_code == 422
        assert field in {error["loc"][-1] for error in response.json()["detail"]}
    too_long = await client.post(f"/approvals/{booking_id}/reject", json={"reason": "x" * 501})
    assert too_long.status_code == 422
    assert (await client.get(f"/approvals/{booking_id}")).json()["status"] == "pending"


async def test_a_reason_with_nul_escapes_or_bidi_is_a_422_and_changes_nothing(
    client, pending
) -> None:
    booking_id = await pending()
    # NUL was a psycopg DataError (500); the others would reach operators' terminals.
    # A lone surrogate is written as its JSON escape: no client library encodes it.
    for reason in (r"a\u0000b", r"\u001b[2J", r"ok\r\nforged", r"\u202edesrever", r"\ud800"):
        response = await client.post(
            f"/approvals/{booking_id}/reject",
            content=f'{{"reason": "{reason}"}}'.encode(),
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["body", "reason"]
    duplicate = await client.post(
        f"/approvals/{booking_id}/reject",
        content=b'{"reason": "a", "reason": "b"}',
        headers={"content-type": "application/json"},
    )
    assert duplicate.status_code == 422
    assert (await client.get(f"/approvals/{booking_id}")).json()["status"] == "pending"


async def test_list_filters_and_pages_newest_first(client, pending) -> None:
    customer = f"c{uuid.uuid4().hex[:8]}"
    ids = [await pending(customer) for _ in range(3)]
    await client.post(f"/approvals/{ids[0]}/approve")
    page = (await client.get("/approvals", params={"customer_id": customer, "limit": 2})).json()
    assert page["total"] == 3 and page["limit"] == 2 and page["offset"] == 0
    assert [item["booking_id"] for item in page["items"]] == [str(ids[2]), str(ids[1])]
    rest = await client.get("/approvals", params={"customer_id": customer, "offset": 2})
    assert [item["booking_id"] for item in rest.json()["items"]] == [str(ids[0])]
    pending_only = await client.get(
        "/approvals", params={"customer_id": customer, "status": "pending"}
    )
    assert pending_only.json()["total"] == 2
    assert (await client.get("/approvals", params={"status": "nope"})).status_code == 422
    assert (await client.get("/approvals", params={"limit": 0})).status_code == 422


async def test_health_and_readiness(client) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok", "checks": {}}
    ready = (await client.get("/readyz")).json()
    assert ready == {
        "status": "ok",
        "checks": {
            "consumers": "ok",
            "database": "ok",
            "redis": "ok",
            "schema": f"current: database at {HEAD}, code at {HEAD}",
        },
    }
    spec = (await client.get("/asyncapi.json")).text
    for event_type in ("CREATED_BOOKING_EVENT", "APPROVED_BOOKING_EVENT", "REJECTED_BOOKING_EVENT"):
        assert event_type in spec
