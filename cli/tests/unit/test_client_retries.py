"""`sagactl book` sends an Idempotency-Key and retries a lost answer with the same key."""

import httpx
import pytest

from sagactl import client as client_module
from sagactl.client import ApiError, Endpoints, SagaClient

BOOKING = {"id": "b-1", "status": "pending"}


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "RETRY_BACKOFF_SECONDS", 0)


def client_answering(handler, retries: int = 3) -> SagaClient:
    transport = httpx.MockTransport(handler)
    return SagaClient(Endpoints(booking_url="http://booking"), transport=transport, retries=retries)


async def test_a_timed_out_booking_is_retried_with_the_same_key() -> None:
    keys: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["Idempotency-Key"])
        if len(keys) == 1:
            raise httpx.ReadTimeout("no answer", request=request)
        if len(keys) == 2:
            return httpx.Response(503, headers={"Retry-After": "0"}, json={"detail": "busy"})
        return httpx.Response(201, json=BOOKING, headers={"Idempotent-Replayed": "true"})

    client = client_answering(handler)
    assert await client.book("alice", "Room", 10) == BOOKING
    assert len(keys) == 3 and len(set(keys)) == 1
    await client.aclose()


async def test_each_booking_gets_a_key_of_its_own() -> None:
    keys: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["Idempotency-Key"])
        return httpx.Response(201, json=BOOKING)

    client = client_answering(handler)
    await client.book("alice", "Room", 10)
    await client.book("alice", "Room", 10)
    assert len(set(keys)) == 2
    await client.aclose()


async def test_the_last_failure_is_raised_and_a_refusal_is_not_retried() -> None:
    calls: list[httpx.Request] = []

    def unreachable(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("refused", request=request)

    client = client_answering(unreachable, retries=2)
    with pytest.raises(httpx.ConnectError):
        await client.book("alice", "Room", 10)
    assert len(calls) == 3
    await client.aclose()

    refusals: list[httpx.Request] = []

    def refusing(request: httpx.Request) -> httpx.Response:
        refusals.append(request)
        return httpx.Response(422, json={"detail": []})

    client = client_answering(refusing)
    with pytest.raises(ApiError):
        await client.book("alice", "Room", 10)
    assert len(refusals) == 1
    await client.aclose()
