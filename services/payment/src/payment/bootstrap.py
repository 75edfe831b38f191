"""The one place that wires the payment service's settings, adapters and handlers."""

from payment.adapters.orm import idempotency_keys, messaging
from payment.adapters.unit_of_work import SqlPaymentUnitOfWork
from payment.config import Settings
from payment.service_layer.handlers import EVENT_HANDLERS
from sagakit.events import EventType
from sagakit.runtime import ServiceRuntime
from sagakit.spec import ServiceSpec

SPEC = ServiceSpec(
    name="payment",
    migrations="payment:migrations",
    tables=messaging,
    idempotency_keys=idempotency_keys,
    unit_of_work=SqlPaymentUnitOfWork,
    publishes=(EventType.PAID_BOOKING_EVENT, EventType.INSUFFICIENT_FUND_EVENT),
    handlers=EVENT_HANDLERS,
)


def bootstrap(settings: Settings | None = None) -> ServiceRuntime:
    """A runtime for the payment service (not started)."""
    return ServiceRuntime(SPEC, settings or Settings())
