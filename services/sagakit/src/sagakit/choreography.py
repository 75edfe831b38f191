"""Who publishes and who hears each event: the one table the security checks come from.

Consumers refuse an event whose `producer` is not its owner here; the Redis ACL users
(sagakit.acl) may write only what their service publishes and read only what it
hears; each service verifies the signatures of the producers it hears. The chart
renders the same ACLs and key wiring from a copy of this table (charts/saga,
`saga.choreography`), and tests/charts compares the two. The services' specs must agree
with it too (tests/unit/test_choreography.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sagakit.events import EventType as E


@dataclass(frozen=True)
class Role:
    """What one service publishes and what it hears."""

    publishes: frozenset[E]
    consumes: frozenset[E]


CHOREOGRAPHY: Mapping[str, Role] = {
    # booking also journals every event of its sagas (the timeline), so it hears all eight.
    "booking": Role(frozenset({E.CREATED_BOOKING_EVENT}), frozenset(E)),
    "manager": Role(
        frozenset({E.APPROVED_BOOKING_EVENT, E.REJECTED_BOOKING_EVENT}),
        frozenset({E.CREATED_BOOKING_EVENT}),
    ),
    "billing": Role(
        frozenset({E.BILLED_BOOKING_EVENT}),
        frozenset(
            {
                E.APPROVED_BOOKING_EVENT,
                E.PAID_BOOKING_EVENT,
                E.INSUFFICIENT_FUND_EVENT,
                E.PAYMENT_EXPIRED_EVENT,
            }
        ),
    ),
    "payment": Role(
        frozenset({E.PAID_BOOKING_EVENT, E.INSUFFICIENT_FUND_EVENT, E.PAYMENT_EXPIRED_EVENT}),
        frozenset({E.BILLED_BOOKING_EVENT}),
    ),
    "invoice": Role(frozenset({E.INVOICE_GENERATED_EVENT}), frozenset({E.PAID_BOOKING_EVENT})),
}

SERVICES: tuple[str, ...] = tuple(CHOREOGRAPHY)

CONTROL_CHANNEL = "saga.reconcile"
"""The channel of reconcile requests (sagakit.reconcile): not a saga event, an operation."""
CONTROL_OWNER = "booking"
"""The one service that sends reconcile requests (it knows every saga); all hear them."""

OWNERS: Mapping[E, str] = {
    event: service for service, role in CHOREOGRAPHY.items() for event in role.publishes
}
"""The one service allowed to publish each event type."""


def producers_heard_by(service: str) -> list[str]:
    """The services whose messages `service` hears (whose signatures it verifies), sorted.

    The producers of the events it consumes, and booking, whose reconcile requests every
    service hears.
    """
    return sorted({OWNERS[event] for event in CHOREOGRAPHY[service].consumes} | {CONTROL_OWNER})


def event_order(events: frozenset[E]) -> list[E]:
    """Event types in the contract's order (a stable order for ACL rules and documents)."""
    return [event for event in E if event in events]
