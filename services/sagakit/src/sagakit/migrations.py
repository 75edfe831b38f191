"""Alembic helpers: every service's `migrate` command and `migrations/env.py` use these."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from sagakit.db import ensure_database, normalize_url
from sagakit.tables import (
    INBOX_AGE_INDEX,
    OUTBOX_BOOKING_INDEX,
    OUTBOX_PUBLISHED_INDEX,
    OUTBOX_UNPUBLISHED_INDEX,
    idempotency_table,
    messaging_tables,
)
from sagakit.waiting import retry

log = logging.getLogger(__name__)

# The key of the session-level advisory lock every `migrate` holds while it upgrades: the
# ASCII of "sagamigr". Advisory locks are per database, so services never wait for each other.
MIGRATION_LOCK = int.from_bytes(b"sagamigr")


def alembic_config(script_location: str, database_url: str) -> Config:
    """An Alembic config without an ini file (the package ships its migrations)."""
    config = Config()
    config.set_main_option("script_location", script_location)
    url = normalize_url(database_url).render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def migrate(
    script_location: str, database_url: str, revision: str = "head", wait: float = 0
) -> bool:
    """Create the database if needed, then upgrade it to `revision`.

    With `wait`, keep retrying for that many seconds while the server does not
    answer yet (a pod starting next to its database). Returns False, changing
    nothing, when the database is at a revision this code does not know: a newer
    version migrated it (an old pod during a rollout, or after `helm rollback`),
    and expand/contract migrations promise the older code works on that schema.
    """
    await retry(
        lambda: ensure_database(database_url),
        wait=wait,
        errors=(OperationalError,),
        what="the database",
    )
    config = alembic_config(script_location, database_url)
    unknown = await asyncio.to_thread(_unknown_revisions, script_location, database_url)
    if unknown:
        log.warning("database at %s, newer than this code: left as it is", ", ".join(unknown))
        return False
    await asyncio.to_thread(command.upgrade, config, revision)
    return True


def _unknown_revisions(script_location: str, database_url: str) -> list[str]:
    known = read_revisions(script_location).known
    engine = create_engine(normalize_url(database_url), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_heads()
    finally:
        engine.dispose()
    return sorted(set(current) - known)


async def downgrade(script_location: str, database_url: str, revision: str) -> None:
    """Downgrade the database to `revision` (`base` removes every table)."""
    config = alembic_config(script_location, database_url)
    await asyncio.to_thread(command.downgrade, config, revision)


@dataclass(frozen=True)
class Revisions:
    """What a migrations package knows: its head revisions and every revision."""

    heads: frozenset[str]
    known: frozenset[str]


def read_revisions(script_location: str) -> Revisions:
    """The heads and revisions of a migrations package (blocking: it reads the scripts)."""
    config = Config()
    config.set_main_option("script_location", script_location)
    script = ScriptDirectory.from_config(config)
    known = frozenset(revision.revision for revision in script.walk_revisions())
    return Revisions(heads=frozenset(script.get_heads()), known=known)


def run_migrations(metadata: MetaData, default_database: str) -> None:
    """The body of a service's `migrations/env.py` (synchronous psycopg connection)."""
    url = context.config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    if not url:
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{default_database}"
    if context.is_offline_mode():
        context.configure(url=str(normalize_url(url)), target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(normalize_url(url), poolclass=NullPool)
    with engine.connect() as connection, _migration_lock(connection):
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


@contextmanager
def _migration_lock(connection: Connection) -> Iterator[None]:
    # Several processes may migrate at once (the init containers of several replicas): the
    # first upgrades, the others wait here, then find the database at head and do nothing.
    # Session-level, so it outlives the migration's own transaction; committed right away,
    # or Alembic would see a transaction already open and never commit its own.
    lock = {"key": MIGRATION_LOCK}
    if not connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), lock):
        log.info("another process is migrating this database; waiting for it")
        connection.execute(text("SELECT pg_advisory_lock(:key)"), lock)
    connection.commit()
    try:
        yield
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), lock)
        connection.commit()


def create_messaging_tables() -> None:
    """Create the outbox and inbox as version 1 had them, inside a service migration."""
    for table in messaging_tables(MetaData(), version=1):
        # Columns and indexes added by a later version come with that version's migration.
        table.create(op.get_bind())


def index_inbox_by_age() -> None:
    """Version 2 of the messaging tables: the inbox's index on `processed_at` (retention)."""
    op.create_index(INBOX_AGE_INDEX, "inbox", ["processed_at"])


def drop_inbox_age_index() -> None:
    """Back to version 1 of the messaging tables."""
    op.drop_index(INBOX_AGE_INDEX, table_name="inbox")


def keep_published_outbox_rows() -> None:
    """Version 3: published outbox rows are kept (marked), not deleted (sagakit.outbox).

    A nullable column without a default: adding it rewrites nothing. The rows already
    there were never published (the relay deleted what it published): NULL is right.
    """
    comment = "when Redis last took it; NULL: the relay has yet to publish it"
    op.add_column("outbox", sa.Column("published_at", sa.DateTime(timezone=True), comment=comment))
    op.create_index(
        OUTBOX_UNPUBLISHED_INDEX,
        "outbox",
        ["id"],
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_index(OUTBOX_BOOKING_INDEX, "outbox", ["booking_id"])
    op.create_index(OUTBOX_PUBLISHED_INDEX, "outbox", ["published_at"])


def delete_published_outbox_rows() -> None:
    """Back to version 2: the published rows go (version 2 deleted them), then the column."""
    op.execute("DELETE FROM outbox WHERE published_at IS NOT NULL")
    for index in (OUTBOX_PUBLISHED_INDEX, OUTBOX_BOOKING_INDEX, OUTBOX_UNPUBLISHED_INDEX):
        op.drop_index(index, table_name="outbox")
    op.drop_column("outbox", "published_at")


def drop_messaging_tables() -> None:
    """Drop the outbox and inbox inside a service migration's downgrade."""
    for table in messaging_tables(MetaData()):
        op.drop_table(table.name)


def create_idempotency_table() -> None:
    """Version 1 of the idempotency keys (sagakit.tables.idempotency_table)."""
    idempotency_table(MetaData()).create(op.get_bind())


def drop_idempotency_table() -> None:
    """Drop the idempotency keys inside a service migration's downgrade."""
    op.drop_table("idempotency_keys")
