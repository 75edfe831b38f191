"""A service's spec refuses background events it does not handle."""

import pytest
from sqlalchemy import MetaData

from sagakit.events import EventType
from sagakit.spec import ServiceSpec
from sagakit.tables import messaging_tables


async def _handler(event: object, uow: object) -> None:
    return None


def test_background_events_must_be_handled() -> None:
    with pytest.raises(ValueError, match="PAID_BOOKING_EVENT is not"):
        ServiceSpec(
            name="s",
            tables=messaging_tables(MetaData()),
            unit_of_work=object,  # type: ignore[arg-type]
            publishes=(),
            handlers={EventType.BILLED_BOOKING_EVENT: _handler},
            background=frozenset({EventType.PAID_BOOKING_EVENT}),
        )
