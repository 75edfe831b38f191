"""The one place that wires the manager service's settings, adapters and handlers."""

from datetime import timedelta

from manager.adapters.orm import idempotency_keys, messaging
from manager.adapters.unit_of_work import SqlManagerUnitOfWork
from manager.config import Settings
from manager.service_layer.handlers import event_handlers, reject_overdue_approvals
from sagakit.deadlines import Deadline
from sagakit.events import EventType
from sagakit.runtime import ServiceRuntime
from sagakit.spec import ServiceSpec


def bootstrap(settings: Settings | None = None) -> ServiceRuntime:
    """A runtime for the manager service (not started)."""
    resolved = settings or Settings()
    # Built here, not at import time: the handlers depend on the approval settings.
    spec = ServiceSpec(
        name="manager",
        migrations="manager:migrations",
        tables=messaging,
        idempotency_keys=idempotency_keys,
        unit_of_work=SqlManagerUnitOfWork,
        publishes=(EventType.APPROVED_BOOKING_EVENT, EventType.REJECTED_BOOKING_EVENT),
        handlers=event_handlers(
            resolved.auto_approve, timedelta(seconds=resolved.approval_timeout_seconds)
        ),
        deadlines=(Deadline("approval_timed_out", reject_overdue_approvals),),
    )
    return ServiceRuntime(spec, resolved)
