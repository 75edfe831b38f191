"""The outbox and inbox tables every service database has."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

INBOX_AGE_INDEX = "ix_inbox_processed_at"


class MessagingTables(NamedTuple):
    """Where outgoing events wait for the relay, and which incoming ones were handled."""

    outbox: Table
    inbox: Table


def messaging_tables(metadata: MetaData) -> MessagingTables:
    """Define the outbox and inbox on a service's metadata.

    Changing these columns needs a new migration in every service.
    """
    outbox = Table(
        "outbox",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("event_type", String(64), nullable=False),
        Column("booking_id", Uuid, nullable=False),
        Column("body", Text, nullable=False, comment="the envelope exactly as it is published"),
        Column("headers", JSONB, nullable=False, server_default="{}"),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer", String(64), primary_key=True),
        Column("event_id", Uuid, primary_key=True),
        Column("event_type", String(64), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        # Version 2: the retention job finds the old rows by age (sagakit.retention).
        Index(INBOX_AGE_INDEX, "processed_at"),
    )
    return MessagingTables(outbox, inbox)


def saga_context_column() -> Column[dict[str, str]]:
    """The trace context of an aggregate's saga (see `Aggregate.saga_context`)."""
    return Column(
        "saga_context",
        JSONB,
        nullable=False,
        server_default="{}",
        comment="W3C trace context of the saga, continued by later HTTP commands",
    )
