import httpx

from sagactl.client import Endpoints, SagaClient


def client_answering(handler) -> SagaClient:
    return SagaClient(
        Endpoints(booking_url="http://booking"), transport=httpx.MockTransport(handler)
    )


async def test_timeline_of_an_unknown_booking_is_none() -> None:
    client = client_answering(lambda request: httpx.Response(404, json={"detail": "no"}))
    assert await client.timeline("b-1") is None
    await client.aclose()


async def test_timeline_is_read_from_the_booking_service() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url == "http://booking/bookings/b-1/timeline"
        return httpx.Response(200, json={"steps": []})

    client = client_answering(handler)
    assert await client.timeline("b-1") == {"steps": []}
    await client.aclose()


async def test_an_unreachable_booking_service_is_reported_not_raised() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = client_answering(handler)
    assert await client.timeline("b-1") == "unavailable: ConnectError"
    await client.aclose()
