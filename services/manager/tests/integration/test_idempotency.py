"""The manager's decisions accept an Idempotency-Key: a retry replays, another path is a 422."""

import uuid


async def test_a_decision_retried_with_its_key_replays_the_answer(client, pending) -> None:
    booking_id, key = await pending(), {"Idempotency-Key": str(uuid.uuid4())}
    first = await client.post(f"/approvals/{booking_id}/approve", headers=key)
    again = await client.post(f"/approvals/{booking_id}/approve", headers=key)
    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()


async def test_a_key_used_on_another_booking_is_a_422_naming_the_header(client, pending) -> None:
    one, other, key = await pending(), await pending(), {"Idempotency-Key": str(uuid.uuid4())}
    assert (await client.post(f"/approvals/{one}/approve", headers=key)).status_code == 200
    refused = await client.post(f"/approvals/{other}/approve", headers=key)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert (await client.get(f"/approvals/{other}")).json()["status"] == "pending"


async def test_a_rejection_replays_and_a_conflict_is_not_stored(client, pending) -> None:
    booking_id, key = await pending(), {"Idempotency-Key": str(uuid.uuid4())}
    await client.post(f"/approvals/{booking_id}/approve")
    conflict = await client.post(f"/approvals/{booking_id}/reject", json={"reason": "full"})
    assert conflict.status_code == 409
    other = await pending()
    rejected = await client.post(f"/approvals/{other}/reject", json={"reason": "x"}, headers=key)
    again = await client.post(f"/approvals/{other}/reject", json={"reason": "x"}, headers=key)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == rejected.json() and again.json()["reason"] == "x"


async def test_the_openapi_document_shows_the_header_on_both_decisions(client) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for action in ("approve", "reject"):
        operation = paths[f"/approvals/{{booking_id}}/{action}"]["post"]
        assert "Idempotency-Key" in [p["name"] for p in operation["parameters"]]
        assert "Idempotent-Replayed" in operation["responses"]["200"]["headers"]
