"""The one place that wires the payment service's settings, adapters and handlers."""

from datetime import timedelta

from payment.adapters.orm import idempotency_keys, messaging
from payment.adapters.unit_of_work import SqlPaymentUnitOfWork
from payment.config import Settings
from payment.service_layer.handlers import event_handlers, expire_due_payments
from sagakit.deadlines import Deadline
from sagakit.events import EventType
from sagakit.runtime import ServiceRuntime
from sagakit.spec import ServiceSpec


def bootstrap(settings: Settings | None = None) -> ServiceRuntime:
    """A runtime for the payment service (not started)."""
    resolved = settings or Settings()
    # Built here, not at import time: the handlers depend on the payment deadline setting.
    spec = ServiceSpec(
        name="payment",
        migrations="payment:migrations",
        tables=messaging,
        idempotency_keys=idempotency_keys,
        unit_of_work=SqlPaymentUnitOfWork,
        publishes=(
            EventType.PAID_BOOKING_EVENT,
            EventType.INSUFFICIENT_FUND_EVENT,
            EventType.PAYMENT_EXPIRED_EVENT,
        ),
        handlers=event_handlers(timedelta(seconds=resolved.payment_timeout_seconds)),
        deadlines=(Deadline("payment_expired", expire_due_payments),),
    )
    return ServiceRuntime(spec, resolved)
