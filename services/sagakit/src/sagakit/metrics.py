"""Prometheus metrics every service exposes at /metrics.

Shared plumbing metrics use the `saga_` namespace with a `service` label, so
one dashboard query covers the five services; metrics only the booking service
knows (saga outcomes and durations) are named `booking_...`.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created series are noise

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SAGA_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)

HTTP_REQUESTS = Counter(
    "saga_http_requests",
    "HTTP requests served, by route template and status code.",
    ["service", "method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "saga_http_request_duration_seconds",
    "Time to serve an HTTP request.",
    ["service", "method", "route"],
    buckets=LATENCY_BUCKETS,
)
EVENTS_PUBLISHED = Counter(
    "saga_events_published",
    "Events the outbox relay published.",
    ["service", "event_type"],
)
EVENTS_CONSUMED = Counter(
    "saga_events_consumed",
    "Deliveries received, by how they ended: handled, duplicate, retried, dead_lettered.",
    ["service", "event_type", "outcome"],
)
HANDLER_DURATION = Histogram(
    "saga_handler_duration_seconds",
    "Time to handle one event, transaction included.",
    ["service", "event_type"],
    buckets=LATENCY_BUCKETS,
)
OUTBOX_BACKLOG = Gauge(
    "saga_outbox_backlog_events",
    "Committed events not yet published.",
    ["service"],
)
OUTBOX_LAG = Gauge(
    "saga_outbox_lag_seconds",
    "Age of the oldest unpublished outbox row (0 when the outbox is empty).",
    ["service"],
)
CONSUMER_PENDING = Gauge(
    "saga_consumer_pending_messages",
    "Messages delivered to the service's consumer group and not yet acknowledged.",
    ["service", "stream"],
)
CONSUMER_LAG = Gauge(
    "saga_consumer_lag_messages",
    "Messages in the stream the service's consumer group has not read yet.",
    ["service", "stream"],
)
DEAD_LETTERS = Gauge(
    "saga_dead_letters_messages",
    "Messages waiting in the dead-letter stream.",
    ["service"],
)
LONG_POLL_WAITERS = Gauge(
    "saga_long_poll_waiters",
    "Long polls waiting now (at most LONG_POLL_MAX_WAITERS per process).",
    ["service"],
)
RETENTION_DELETED = Counter(
    "saga_retention_deleted_rows",
    "Rows the retention job deleted because they were older than their retention.",
    ["service", "table"],
)
DEADLINES_FIRED = Counter(
    "saga_deadlines_fired",
    "Deadlines that fell due and fired (a payment expired, an approval timed out).",
    ["service", "deadline"],
)
SAGAS_RECONCILED = Counter(
    "saga_reconciled_sagas",
    "Sagas booking asked every service to re-publish the events of (periodic or manual).",
    ["service", "trigger"],
)
RECONCILE_REQUESTS = Counter(
    "saga_reconcile_requests",
    "Reconcile requests heard, by outcome: handled, or rejected (signature, format).",
    ["service", "outcome"],
)
EVENTS_REPUBLISHED = Counter(
    "saga_events_republished",
    "Kept outbox rows published again on a reconcile request.",
    ["service"],
)
SAGA_OUTCOMES = Counter(
    "booking_saga_outcomes",
    "Sagas that ended, by outcome: reserved, failed, rejected or expired.",
    ["service", "outcome"],
)
SAGA_DURATION = Histogram(
    "booking_saga_duration_seconds",
    "Time from the booking's creation to its final state (exemplar: the saga's trace id).",
    ["service", "outcome"],
    buckets=SAGA_BUCKETS,
)
SAGA_STEP_DURATION = Histogram(
    "booking_saga_step_duration_seconds",
    "Time from the previous saga event to this one, by the event that ends the step.",
    ["service", "step"],
    buckets=SAGA_BUCKETS,
)
SAGAS_RUNNING = Gauge(
    "booking_sagas_running",
    "Bookings not in a final state yet, by status.",
    ["service", "status"],
)
OLDEST_RUNNING_SAGA = Gauge(
    "booking_oldest_running_saga_age_seconds",
    "Age of the oldest booking not in a final state (0 when none runs).",
    ["service"],
)
