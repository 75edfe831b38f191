"""The manager ASGI app (uvicorn calls `create_app` as a factory)."""

from fastapi import FastAPI

from manager import __version__
from manager.bootstrap import bootstrap
from manager.config import Settings
from manager.entrypoints import routes
from sagakit.web import create_service_app

DESCRIPTION = """
Decides on every new booking: each `CREATED_BOOKING_EVENT` becomes an approval
that is `pending` until it is `approved` or `rejected`. A decision is final:
repeating it changes nothing, reversing it is a `409`.

With `AUTO_APPROVE=true` (the default) every booking is approved as soon as it
arrives. With `AUTO_APPROVE=false` approvals wait for a person, who lists them
with `GET /approvals?status=pending` and decides with
`POST /approvals/{booking_id}/approve` or `POST /approvals/{booking_id}/reject`.
An approval nobody decides within `APPROVAL_TIMEOUT_SECONDS` (its `expires_at`)
is rejected with the reason `approval timed out`; a decision after that is a `409`.

Listens to `CREATED_BOOKING_EVENT`; publishes `APPROVED_BOOKING_EVENT` and
`REJECTED_BOOKING_EVENT`. Events are documented at `/asyncapi`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; settings come from the environment unless given."""
    resolved = settings or Settings()
    return create_service_app(
        service_name="manager",
        title="Manager service",
        description=DESCRIPTION,
        version=__version__,
        settings=resolved,
        runtime_factory=lambda: bootstrap(resolved),
        routers=[routes.router],
    )
