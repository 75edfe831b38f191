"""Statements compiled once and run on psycopg 3 directly: the hot path's SQL.

SQLAlchemy stays the schema (tables, Alembic) and the query builder. Executing a Core
statement through SQLAlchemy's async engine costs, on top of psycopg's own work, a cache
lookup, a greenlet switch and result processing per statement; on a saga's ~50 statements
that was the largest share of the services' CPU after the network itself. Here a
statement is compiled once, at import (`Query`), into the SQL text psycopg sends and the
bind processors its parameters need (JSON wrapping), and runs on the transaction's
psycopg connection. psycopg prepares a statement on the server once it has run a few
times on a connection, so the server skips parsing and planning too.

Rows come back as dicts with psycopg's own types (UUID, Decimal, datetime, JSON as
Python values), which are what SQLAlchemy returned for the columns we use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from psycopg import AsyncConnection, AsyncCursor
from psycopg.rows import DictRow, dict_row
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql.psycopg import PGDialectAsync_psycopg
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.elements import BindParameter

_DIALECT = PGDialectAsync_psycopg()  # type: ignore[no-untyped-call]

Params = Mapping[str, Any]


class Query:
    """A SQLAlchemy Core statement compiled for psycopg (`%(name)s` placeholders).

    Values written into the statement (`where(col == 3)`, `.values(x=...)`) become its
    defaults; the names given to `bindparam()` are filled at each call.
    """

    __slots__ = ("_defaults", "_processors", "sql")

    def __init__(self, statement: ClauseElement) -> None:
        # for_executemany: no implicit RETURNING of the primary key on an INSERT.
        compiled: Any = statement.compile(
            dialect=_DIALECT, for_executemany=True, compile_kwargs={"render_postcompile": True}
        )
        self.sql = str(compiled)
        binds: dict[str, BindParameter[Any]] = compiled.binds
        # A bindparam() without a value is required: psycopg complains when it is missing.
        # A value written into the statement, None included, is the parameter's default.
        required = {name for name, bind in binds.items() if bind.required}
        self._defaults = {k: v for k, v in compiled.params.items() if k not in required}
        self._processors: dict[str, Callable[[Any], Any]] = {}
        for name, bind in binds.items():
            # The dialect's own type, as SQLAlchemy uses it: the generic Numeric would
            # turn a Decimal into a float, the generic JSON would serialize to a string.
            processor = bind.type.dialect_impl(_DIALECT).bind_processor(_DIALECT)
            if processor is not None:
                self._processors[name] = processor

    def params(self, given: Params | None = None) -> dict[str, Any]:
        """The parameters psycopg gets: the statement's own values, then `given`."""
        params = {**self._defaults, **given} if given else dict(self._defaults)
        for name, processor in self._processors.items():
            if name in params and params[name] is not None:
                params[name] = processor(params[name])
        return params

    def __repr__(self) -> str:
        return f"Query({self.sql!r})"


def query(statement: ClauseElement | Query) -> Query:
    """A compiled statement: `statement` itself, or compiled now (for one-off statements)."""
    return statement if isinstance(statement, Query) else Query(statement)


class Sql:
    """Runs statements on one psycopg connection, inside whatever transaction it is in."""

    __slots__ = ("connection",)

    def __init__(self, connection: AsyncConnection[Any]) -> None:
        self.connection = connection

    async def _run(self, statement: ClauseElement | Query, params: Params | None) -> Any:
        compiled = query(statement)
        cursor: AsyncCursor[DictRow] = self.connection.cursor(row_factory=dict_row)
        await cursor.execute(compiled.sql, compiled.params(params))
        return cursor

    async def execute(self, statement: ClauseElement | Query, params: Params | None = None) -> int:
        """Run a statement; returns how many rows it changed."""
        cursor = await self._run(statement, params)
        return int(cursor.rowcount)

    async def execute_many(self, statement: ClauseElement | Query, rows: Sequence[Params]) -> None:
        """Run a statement once per parameter set, in one round trip (psycopg pipelines it)."""
        if not rows:
            return
        compiled = query(statement)
        async with self.connection.cursor() as cursor:
            await cursor.executemany(compiled.sql, [compiled.params(row) for row in rows])

    async def fetch_one(
        self, statement: ClauseElement | Query, params: Params | None = None
    ) -> dict[str, Any] | None:
        """The first row, or None."""
        cursor = await self._run(statement, params)
        row: dict[str, Any] | None = await cursor.fetchone()
        return row

    async def fetch_all(
        self, statement: ClauseElement | Query, params: Params | None = None
    ) -> list[dict[str, Any]]:
        """Every row."""
        cursor = await self._run(statement, params)
        rows: list[dict[str, Any]] = await cursor.fetchall()
        return rows

    async def scalar(self, statement: ClauseElement | Query, params: Params | None = None) -> Any:
        """The first column of the first row, or None."""
        row = await self.fetch_one(statement, params)
        return None if row is None else next(iter(row.values()))


def insert_row(table: Table) -> Query:
    """INSERT of one row with every column of `table`, each a parameter of its name."""
    return Query(insert(table).values({c.name: bindparam(c.name) for c in table.c}))


def insert_new(table: Table) -> Query:
    """`insert_row`, unless a unique key of the row is taken already: then nothing, and
    no row comes back (`Sql.fetch_one` gives None). A concurrent insert of the same key
    waits for the other transaction and then does nothing if that one committed."""
    values: dict[str, Any] = {c.name: bindparam(c.name) for c in table.c}
    key = next(iter(table.primary_key.columns))
    return Query(postgresql.insert(table).values(values).on_conflict_do_nothing().returning(key))


def select_by(table: Table, key: str, *, for_update: bool = False) -> Query:
    """The rows of `table` whose `key` column equals the parameter `key` (locked, if asked)."""
    query = select(table).where(table.c[key] == bindparam(key))
    return Query(query.with_for_update() if for_update else query)


def update_by(table: Table, key: str, columns: Sequence[str]) -> Query:
    """UPDATE of `columns` (parameters of their names) in the row whose `key` column
    equals the parameter `key`."""
    values: dict[str, Any] = {name: bindparam(name) for name in columns}
    return Query(update(table).where(table.c[key] == bindparam(key)).values(values))


def due_for_update(table: Table, status: str) -> Query:
    """A deadline sweep's rows: in `status`, `expires_at` at or before the parameter `now`,
    oldest first, at most the parameter `limit`, skipping rows another replica holds."""
    return Query(
        select(table)
        .where(
            table.c.status == status,
            table.c.expires_at <= bindparam("now", type_=table.c.expires_at.type),
        )
        .order_by(table.c.expires_at)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)
    )
