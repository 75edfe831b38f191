"""The outbox and inbox tables every service database has."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

INBOX_AGE_INDEX = "ix_inbox_processed_at"
IDEMPOTENCY_AGE_INDEX = "ix_idempotency_keys_created_at"
# Version 3: published rows are kept (sagakit.outbox, sagakit.reconcile).
OUTBOX_UNPUBLISHED_INDEX = "ix_outbox_unpublished"
OUTBOX_BOOKING_INDEX = "ix_outbox_booking_id"
OUTBOX_PUBLISHED_INDEX = "ix_outbox_published_at"
VERSION = 3


class MessagingTables(NamedTuple):
    """Where outgoing events wait for the relay, and which incoming ones were handled."""

    outbox: Table
    inbox: Table


def messaging_tables(metadata: MetaData, version: int = VERSION) -> MessagingTables:
    """Define the outbox and inbox on a service's metadata (as `version` had them).

    Changing these columns needs a new migration in every service (sagakit.migrations).
    """
    kept: list[Column[Any] | Index] = []
    if version >= 3:
        kept = [
            Column(
                "published_at",
                DateTime(timezone=True),
                nullable=True,
                comment="when Redis last took it; NULL: the relay has yet to publish it",
            ),
            # The relay claims only unpublished rows: a small index however many are kept.
            Index(OUTBOX_UNPUBLISHED_INDEX, "id", postgresql_where=text("published_at IS NULL")),
            Index(OUTBOX_BOOKING_INDEX, "booking_id"),  # a reconcile request's rows
            Index(OUTBOX_PUBLISHED_INDEX, "published_at"),  # retention finds old rows by age
        ]
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
        *kept,
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer", String(64), primary_key=True),
        Column("event_id", Uuid, primary_key=True),
        Column("event_type", String(64), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        # Version 2: the retention job finds the old rows by age (sagakit.retention).
        *([Index(INBOX_AGE_INDEX, "processed_at")] if version >= 2 else []),
    )
    return MessagingTables(outbox, inbox)


def idempotency_table(metadata: MetaData) -> Table:
    """The keys of idempotent commands and what they answered (sagakit.idempotency).

    A row is written in the transaction of the command's state change; `scope` is the
    route and the caller, so a key never reaches another caller's answer.
    """
    return Table(
        "idempotency_keys",
        metadata,
        Column("scope", Text, primary_key=True, comment="METHOD /route template and caller"),
        Column("key", String(255), primary_key=True),
        Column("request_hash", String(64), nullable=False, comment="sha256 of path and body"),
        Column("status_code", SmallInteger, nullable=True),
        # json, not jsonb: a replay sends the fields in the order first sent.
        Column("response", JSON, nullable=True),
        Column("headers", JSONB, nullable=False, server_default="{}"),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Index(IDEMPOTENCY_AGE_INDEX, "created_at"),
    )


def saga_context_column() -> Column[dict[str, str]]:
    """The trace context of an aggregate's saga (see `Aggregate.saga_context`)."""
    return Column(
        "saga_context",
        JSONB,
        nullable=False,
        server_default="{}",
        comment="W3C trace context of the saga, continued by later HTTP commands",
    )
