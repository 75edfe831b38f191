"""An HTTP client for the five services, by base URL (local, or a cluster via port-forward).

Each call carries a bearer token for the identity the services' role table asks for
(docs/security.md): credit as admin, a booking and its payment as its customer,
decisions as manager, reads as admin. `acting_as` (`sagactl --as NAME`) replaces them all.
"""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import httpx
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from sagactl.auth import ADMIN, MANAGER, Tokens
from sagactl.terminal import plain

SERVICES = ("booking", "manager", "billing", "payment", "invoice")
PORTS = {"booking": 8001, "manager": 8002, "billing": 8003, "payment": 8004, "invoice": 8005}


class Endpoints(BaseSettings):
    """Base URLs of the services; override with SAGA_BOOKING_URL and friends."""

    model_config = SettingsConfigDict(env_prefix="SAGA_")

    booking_url: str = Field(default=f"http://127.0.0.1:{PORTS['booking']}")
    manager_url: str = Field(default=f"http://127.0.0.1:{PORTS['manager']}")
    billing_url: str = Field(default=f"http://127.0.0.1:{PORTS['billing']}")
    payment_url: str = Field(default=f"http://127.0.0.1:{PORTS['payment']}")
    invoice_url: str = Field(default=f"http://127.0.0.1:{PORTS['invoice']}")

    def url(self, service: str) -> str:
        """The base URL of one service."""
        return str(getattr(self, f"{service}_url")).rstrip("/")


RETRY_BACKOFF_SECONDS = 0.5  # doubled at each retry
MAX_RETRY_AFTER_SECONDS = 10.0


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return min(float(response.headers.get("Retry-After", default)), MAX_RETRY_AFTER_SECONDS)
    except ValueError:  # an HTTP date: not sent by the services
        return default


class ApiError(RuntimeError):
    """A service answered with an unexpected status."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class SagaClient:
    """Typed calls to the saga's HTTP APIs."""

    def __init__(
        self,
        endpoints: Endpoints,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        tokens: Tokens | None = None,
        acting_as: str | None = None,
        retries: int = 3,
    ) -> None:
        self.endpoints = endpoints
        self.retries = retries  # of a request sent with an Idempotency-Key
        self.tokens = tokens
        self.acting_as = acting_as
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    def headers(self, identity: str) -> dict[str, str]:
        """The Authorization header of a call as `identity` (or `acting_as`); {} without tokens."""
        if self.tokens is None:
            return {}
        return {"Authorization": f"Bearer {self.tokens.token(self.acting_as or identity)}"}

    async def _call(
        self,
        method: str,
        service: str,
        path: str,
        identity: str,
        json: Any = None,
        ok: tuple[int, ...] = (200,),
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        url = self.endpoints.url(service) + path
        headers = self.headers(identity)
        if idempotency_key is None:
            response = await self._http.request(method, url, json=json, headers=headers)
        else:
            headers["Idempotency-Key"] = idempotency_key
            response = await self._retried(method, url, json, headers)
        if response.status_code not in ok:
            answer = plain(response.text[:2000])  # printed as the command's error
            raise ApiError(
                f"{method} {service}{path}: {response.status_code} {answer}",
                response.status_code,
            )
        return response

    async def _retried(
        self, method: str, url: str, json: Any, headers: dict[str, str]
    ) -> httpx.Response:
        # Safe to repeat: the request carries an Idempotency-Key, so a request that did
        # reach the service before the answer was lost is answered, not done again.
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = await self._http.request(method, url, json=json, headers=headers)
            except httpx.TransportError:  # timed out, refused, cut: the answer is unknown
                if last:
                    raise
                await asyncio.sleep(RETRY_BACKOFF_SECONDS * 2**attempt)
                continue
            if response.status_code != 503 or last:
                return response
            await asyncio.sleep(_retry_after(response, RETRY_BACKOFF_SECONDS * 2**attempt))
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def set_credit(self, customer_id: str, amount: Decimal) -> dict[str, Any]:
        """Set a customer's available credit (as admin)."""
        body = {"amount": str(amount)}
        path = f"/customers/{customer_id}/credit"
        return dict((await self._call("PUT", "payment", path, ADMIN, body)).json())

    async def book(self, customer_id: str, item: str, amount: Decimal) -> dict[str, Any]:
        """Create a booking as its customer; returns it (pending).

        Sent with a new Idempotency-Key and retried with it after a timeout, a broken
        connection or a 503: one booking however many attempts it takes.
        """
        body = {"customer_id": customer_id, "item": item, "amount": str(amount)}
        key = str(uuid.uuid4())
        response = await self._call(
            "POST", "booking", "/bookings", customer_id, body, (201,), idempotency_key=key
        )
        return dict(response.json())

    async def pay(self, booking_id: str, customer_id: str) -> httpx.Response:
        """Submit the payment of a booking as its customer (200 settled, 409 no bill yet)."""
        body = {"booking_id": booking_id}
        return await self._call("POST", "payment", "/payments", customer_id, body, (200, 409))

    async def decide(
        self, booking_id: str, approve: bool, reason: str | None = None
    ) -> dict[str, Any]:
        """Approve or reject a pending booking as the manager (manual approval mode)."""
        action = "approve" if approve else "reject"
        body = None if approve or reason is None else {"reason": reason}
        path = f"/approvals/{booking_id}/{action}"
        return dict((await self._call("POST", "manager", path, MANAGER, body)).json())

    async def reconcile(self, booking_id: str | None) -> dict[str, Any]:
        """Ask every service to re-publish the events of one booking, or of every stuck saga."""
        path = "/bookings/reconcile" if booking_id is None else f"/bookings/{booking_id}/reconcile"
        return dict((await self._call("POST", "booking", path, ADMIN, ok=(202,))).json())

    async def find(self, service: str, path: str, identity: str = ADMIN) -> dict[str, Any] | None:
        """GET a resource (as admin unless told); None when it does not exist (yet)."""
        response = await self._call("GET", service, path, identity, ok=(200, 404))
        return dict(response.json()) if response.status_code == 200 else None

    async def owner(self, booking_id: str) -> str | None:
        """The customer of a booking (read as admin); None for an unknown booking."""
        booking = await self.find("booking", f"/bookings/{booking_id}")
        return None if booking is None else str(booking["customer_id"])

    async def snapshot(self, booking_id: str) -> dict[str, dict[str, Any] | str | None]:
        """What each of the five services knows about one booking."""
        paths = {
            "booking": f"/bookings/{booking_id}",
            "manager": f"/approvals/{booking_id}",
            "billing": f"/bills/{booking_id}",
            "payment": f"/payments/{booking_id}",
            "invoice": f"/invoices/{booking_id}",
        }
        result: dict[str, dict[str, Any] | str | None] = {}
        for service, path in paths.items():
            try:
                result[service] = await self.find(service, path)
            except httpx.HTTPError as exc:
                result[service] = f"unreachable: {exc.__class__.__name__}"
            except ApiError as exc:  # e.g. 403: the identity may not read it
                result[service] = f"refused: {exc.status_code}"
        return result

    async def timeline(self, booking_id: str) -> dict[str, Any] | str | None:
        """The saga step by step as booking journaled it; None for an unknown booking."""
        try:
            return await self.find("booking", f"/bookings/{booking_id}/timeline")
        except (httpx.HTTPError, ApiError) as exc:
            return f"unavailable: {exc.__class__.__name__}"

    async def ready(self, service: str) -> bool:
        """Does the service answer /readyz with 200?"""
        try:
            response = await self._http.get(self.endpoints.url(service) + "/readyz")
        except httpx.HTTPError:
            return False
        return response.status_code == 200
