"""The booking ASGI app (uvicorn calls `create_app` as a factory)."""

from fastapi import FastAPI

from booking import __version__
from booking.bootstrap import bootstrap
from booking.config import Settings
from booking.entrypoints import reconcile, routes
from sagakit.web import create_service_app

DESCRIPTION = """
Creates bookings and follows each one through its saga:
`pending` -> `approved` -> `reserved`, or `rejected` by the manager,
or `failed` when the customer cannot pay (compensation).

Publishes `CREATED_BOOKING_EVENT`. Changes state on `APPROVED_BOOKING_EVENT`,
`REJECTED_BOOKING_EVENT`, `INVOICE_GENERATED_EVENT` and `INSUFFICIENT_FUND_EVENT`,
and journals every saga event (its own and `BILLED_`/`PAID_BOOKING_EVENT` too)
so `GET /bookings/{id}/timeline` can tell the saga step by step.
Events are documented at `/asyncapi`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; settings come from the environment unless given."""
    resolved = settings or Settings()
    return create_service_app(
        service_name="booking",
        title="Booking service",
        description=DESCRIPTION,
        version=__version__,
        settings=resolved,
        runtime_factory=lambda: bootstrap(resolved),
        routers=[routes.router, reconcile.router],
    )
