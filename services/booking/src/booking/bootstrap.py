"""The one place that wires the booking service's settings, adapters and handlers."""

from booking.adapters.orm import idempotency_keys, messaging, saga_journal, saga_reconciles
from booking.adapters.saga_metrics import sample_running_sagas
from booking.adapters.stuck import find_stuck
from booking.adapters.unit_of_work import SqlBookingUnitOfWork
from booking.config import Settings
from booking.service_layer.handlers import BACKGROUND, EVENT_HANDLERS
from sagakit.events import EventType
from sagakit.retention import Expiry
from sagakit.runtime import ServiceRuntime
from sagakit.spec import ServiceSpec


def bootstrap(settings: Settings | None = None) -> ServiceRuntime:
    """A runtime for the booking service (not started)."""
    resolved = settings or Settings()
    # Built here, not at import time: the journal's retention is a setting.
    spec = ServiceSpec(
        name="booking",
        migrations="booking:migrations",
        tables=messaging,
        idempotency_keys=idempotency_keys,
        unit_of_work=SqlBookingUnitOfWork,
        publishes=(EventType.CREATED_BOOKING_EVENT,),
        handlers=EVENT_HANDLERS,
        background=BACKGROUND,
        sampler=sample_running_sagas,
        expiring=(
            Expiry(saga_journal, "recorded_at", resolved.journal_retention_days),
            Expiry(saga_reconciles, "last_at", resolved.journal_retention_days),
        ),
        stuck=find_stuck,
    )
    return ServiceRuntime(spec, resolved)
