"""The schema gate: consume, relay and serve only once the database schema is current.

When migrations run in a Job (a Helm `post-install,pre-upgrade` hook) instead of an init
container, a pod can start before its database is migrated: on a first install Helm waits
for the pods to be Ready before it runs post-install hooks. Until the database's Alembic
revision reaches the head of the service's own migrations, the service neither consumes
events (they wait in the streams, whose consumer groups exist already) nor relays its
outbox, and its API answers 503. A database *ahead* of the code (an older release after
`helm rollback`, under expand/contract migrations) opens the gate with a warning.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from enum import StrEnum

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from sagakit.migrations import Revisions, read_revisions
from sagakit.waiting import reason

log = logging.getLogger(__name__)


class SchemaState(StrEnum):
    """Where the database stands against the code's migrations."""

    UNKNOWN = "unknown"  # not read yet, or the database did not answer
    BEHIND = "behind"  # no schema yet, or an older revision: migrations pending
    CURRENT = "current"
    AHEAD = "ahead"  # a revision this code does not know: a newer release migrated it


def compare(database: Iterable[str], code: Revisions) -> SchemaState:
    """Compare the database's revisions with the code's heads and known revisions."""
    found = set(database)
    if found == code.heads:
        return SchemaState.CURRENT
    if found - code.known:
        return SchemaState.AHEAD
    return SchemaState.BEHIND


class SchemaGate:
    """Open when the database schema is current (or ahead); re-checked until it is."""

    def __init__(self, engine: AsyncEngine, script_location: str | None, interval: float) -> None:
        self._engine = engine
        self._script_location = script_location
        self._interval = interval
        self._code: Revisions | None = None
        # Without migrations of its own (a test service), there is nothing to wait for.
        self.state = SchemaState.CURRENT if script_location is None else SchemaState.UNKNOWN
        self.detail = "no migrations" if script_location is None else "not checked yet"

    @property
    def open(self) -> bool:
        """May the service consume, relay and serve?"""
        return self.state in (SchemaState.CURRENT, SchemaState.AHEAD)

    def describe(self) -> str:
        """The state and why, for /readyz and the 503 answers."""
        return f"{self.state.value}: {self.detail}"

    async def check(self) -> SchemaState:
        """Read the database's revision once and update the state (never raises)."""
        if self._script_location is None:
            return self.state
        if self._code is None:
            # Alembic reads the migration scripts from disk: once, off the event loop.
            self._code = await asyncio.to_thread(read_revisions, self._script_location)
        try:
            async with asyncio.timeout(5), self._engine.connect() as conn:
                found = await _current_heads(conn)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            self._update(SchemaState.UNKNOWN, f"cannot read the revision: {reason(exc)}")
            return self.state
        self._update(compare(found, self._code), _versions(found, self._code))
        return self.state

    async def wait_open(self) -> None:
        """Re-check every `interval` seconds until the gate opens."""
        await self.check()
        while not self.open:
            await asyncio.sleep(self._interval)
            await self.check()

    def _update(self, state: SchemaState, detail: str) -> None:
        changed = state is not self.state
        self.state, self.detail = state, detail
        if not changed:
            return
        if state is SchemaState.CURRENT:
            log.info("database schema is current (%s)", detail)
        elif state is SchemaState.AHEAD:
            log.warning(
                "database schema is ahead of this code (%s): serving anyway; migrations are "
                "expand/contract, so an older release works on a newer schema",
                detail,
            )
        else:
            log.warning(
                "database schema is %s (%s): not consuming events or relaying the outbox, "
                "and the API answers 503, until it is migrated",
                state.value,
                detail,
            )


async def _current_heads(conn: AsyncConnection) -> tuple[str, ...]:
    # Alembic's default version table; none yet means no schema. (Read with plain SQL:
    # Alembic's MigrationContext logs two INFO lines per check.)
    if await conn.scalar(text("SELECT to_regclass('alembic_version')")) is None:
        return ()
    return tuple((await conn.scalars(text("SELECT version_num FROM alembic_version"))).all())


def _versions(found: Iterable[str], code: Revisions) -> str:
    database = ",".join(sorted(found)) or "no schema"
    return f"database at {database}, code at {','.join(sorted(code.heads))}"
