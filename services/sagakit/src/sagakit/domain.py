"""The aggregate base: a state change records the events it raises."""

from __future__ import annotations

from dataclasses import dataclass, field

from sagakit.events import SagaEvent


@dataclass(kw_only=True)
class Aggregate:
    """Holds raised events until the unit of work writes them to the outbox."""

    events: list[SagaEvent] = field(default_factory=list, repr=False, compare=False)

    def raise_event(self, event: SagaEvent) -> None:
        """Record an event; it is published only if the transaction commits."""
        self.events.append(event)
