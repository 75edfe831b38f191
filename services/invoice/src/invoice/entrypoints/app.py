"""The invoice ASGI app (uvicorn calls `create_app` as a factory)."""

from fastapi import FastAPI

from invoice import __version__
from invoice.bootstrap import bootstrap
from invoice.config import Settings
from invoice.entrypoints import routes
from sagakit.web import create_service_app

DESCRIPTION = """
Generates exactly one invoice for every paid booking, numbered
`INV-<year>-<sequence>` from a database sequence, with one line for the
booked item. A booking that is paid twice still has one invoice.

Listens to `PAID_BOOKING_EVENT`; publishes `INVOICE_GENERATED_EVENT`, which
ends the saga with the booking reserved. Events are documented at `/asyncapi`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; settings come from the environment unless given."""
    resolved = settings or Settings()
    return create_service_app(
        service_name="invoice",
        title="Invoice service",
        description=DESCRIPTION,
        version=__version__,
        settings=resolved,
        runtime_factory=lambda: bootstrap(resolved),
        routers=[routes.router],
    )
