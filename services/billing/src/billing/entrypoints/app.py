"""The billing ASGI app (uvicorn calls `create_app` as a factory)."""

from fastapi import FastAPI

from billing import __version__
from billing.bootstrap import bootstrap
from billing.config import Settings
from billing.entrypoints import routes
from sagakit.web import create_service_app

DESCRIPTION = """
Issues one bill per approved booking and follows it to its end:
`pending` -> `paid` when the customer paid, or `failed` when their credit
did not cover the amount (compensation).

Listens to `APPROVED_BOOKING_EVENT`, `PAID_BOOKING_EVENT` and
`INSUFFICIENT_FUND_EVENT`; publishes `BILLED_BOOKING_EVENT`.
Events are documented at `/asyncapi`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; settings come from the environment unless given."""
    resolved = settings or Settings()
    return create_service_app(
        service_name="billing",
        title="Billing service",
        description=DESCRIPTION,
        version=__version__,
        settings=resolved,
        runtime_factory=lambda: bootstrap(resolved),
        routers=[routes.router],
    )
