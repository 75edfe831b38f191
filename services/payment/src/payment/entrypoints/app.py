"""The payment ASGI app (uvicorn calls `create_app` as a factory)."""

from fastapi import FastAPI

from payment import __version__
from payment.bootstrap import bootstrap
from payment.config import Settings
from payment.entrypoints import routes
from sagakit.web import create_service_app

DESCRIPTION = """
Holds each customer's credit and pays each booking's bill from it, once.

`PUT /customers/{customer_id}/credit` **sets** the available credit to the
amount sent (it replaces the credit, it does not add to it) and creates the
customer on first use.

A `BILLED_BOOKING_EVENT` opens the booking's payment request
(`awaiting_payment`). `POST /payments` settles it: `paid` when the credit
covers the amount (the credit is debited and `PAID_BOOKING_EVENT` is
published), otherwise `insufficient_funds` (the credit is untouched and
`INSUFFICIENT_FUND_EVENT` is published). Submitting again is safe: it returns
the same outcome and never charges twice, even when the submissions race.
Submitting before the bill has arrived answers `409 Conflict`: retry shortly.

A payment request waits `PAYMENT_TIMEOUT_SECONDS` (its `expires_at`); unpaid by
then it becomes `expired` (`PAYMENT_EXPIRED_EVENT`: the booking expires, the
bill is cancelled), and a payment submitted later answers `409 Conflict` and
charges nothing.

Events are documented at `/asyncapi`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; settings come from the environment unless given."""
    resolved = settings or Settings()
    return create_service_app(
        service_name="payment",
        title="Payment service",
        description=DESCRIPTION,
        version=__version__,
        settings=resolved,
        runtime_factory=lambda: bootstrap(resolved),
        routers=[routes.customer_router, routes.payment_router],
    )
