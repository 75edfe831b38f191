"""The aggregate base: a state change records the events it raises."""

from __future__ import annotations

from dataclasses import dataclass, field

from sagakit.events import SagaEvent


@dataclass(kw_only=True)
class Aggregate:
    """Holds raised events until the unit of work writes them to the outbox."""

    events: list[SagaEvent] = field(default_factory=list, repr=False, compare=False)
    saga_context: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    """W3C trace context of the saga the aggregate belongs to, set when it is first stored.

    A later HTTP command on the aggregate (a payment, a manual approval)
    publishes its events in this context, so the saga keeps one trace.
    """

    def raise_event(self, event: SagaEvent) -> None:
        """Record an event; it is published only if the transaction commits."""
        self.events.append(event)
