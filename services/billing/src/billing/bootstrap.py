"""The one place that wires the billing service's settings, adapters and handlers."""

from billing.adapters.orm import messaging
from billing.adapters.unit_of_work import SqlBillingUnitOfWork
from billing.config import Settings
from billing.service_layer.handlers import BACKGROUND, EVENT_HANDLERS
from sagakit.events import EventType
from sagakit.runtime import ServiceRuntime
from sagakit.spec import ServiceSpec

SPEC = ServiceSpec(
    name="billing",
    migrations="billing:migrations",
    tables=messaging,
    unit_of_work=SqlBillingUnitOfWork,
    publishes=(EventType.BILLED_BOOKING_EVENT,),
    handlers=EVENT_HANDLERS,
    background=BACKGROUND,
)


def bootstrap(settings: Settings | None = None) -> ServiceRuntime:
    """A runtime for the billing service (not started)."""
    return ServiceRuntime(SPEC, settings or Settings())
