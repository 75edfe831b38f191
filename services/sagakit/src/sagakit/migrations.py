"""Alembic helpers: every service's `migrate` command and `migrations/env.py` use these."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable

from alembic import command, context, op
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from sagakit.db import ensure_database, normalize_url
from sagakit.tables import messaging_tables

log = logging.getLogger(__name__)


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
    await _retry(lambda: ensure_database(database_url), wait)
    config = alembic_config(script_location, database_url)
    unknown = await asyncio.to_thread(_unknown_revisions, config, database_url)
    if unknown:
        log.warning("database at %s, newer than this code: left as it is", ", ".join(unknown))
        return False
    await asyncio.to_thread(command.upgrade, config, revision)
    return True


def _unknown_revisions(config: Config, database_url: str) -> list[str]:
    known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
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


async def _retry(action: Callable[[], Awaitable[object]], wait: float) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            await action()
            return
        except OperationalError as exc:
            if time.monotonic() >= deadline:
                raise
            log.warning("database not reachable yet (%s); retrying", exc.orig or exc)
            await asyncio.sleep(1.0)


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
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def create_messaging_tables() -> None:
    """Create the outbox and inbox (version 1) inside a service migration."""
    for table in messaging_tables(MetaData()):
        table.create(op.get_bind())


def drop_messaging_tables() -> None:
    """Drop the outbox and inbox inside a service migration's downgrade."""
    for table in messaging_tables(MetaData()):
        op.drop_table(table.name)
