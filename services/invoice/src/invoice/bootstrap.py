"""The one place that wires the invoice service's settings, adapters and handlers."""

from invoice.adapters.orm import messaging
from invoice.adapters.unit_of_work import SqlInvoiceUnitOfWork
from invoice.config import Settings
from invoice.service_layer.handlers import EVENT_HANDLERS
from sagakit.events import EventType
from sagakit.runtime import ServiceRuntime
from sagakit.spec import ServiceSpec

SPEC = ServiceSpec(
    name="invoice",
    migrations="invoice:migrations",
    tables=messaging,
    unit_of_work=SqlInvoiceUnitOfWork,
    publishes=(EventType.INVOICE_GENERATED_EVENT,),
    handlers=EVENT_HANDLERS,
)


def bootstrap(settings: Settings | None = None) -> ServiceRuntime:
    """A runtime for the invoice service (not started)."""
    return ServiceRuntime(SPEC, settings or Settings())
