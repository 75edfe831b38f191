"""sagakit.sql on the real Postgres: compiled statements, their parameters and their rows."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    Uuid,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.schema import CreateTable

from sagakit.sql import Query, Sql
from sagakit.transactions import open_connection, release

things = Table(
    "sql_things",
    MetaData(),
    Column("id", Uuid, primary_key=True),
    Column("name", String(32), nullable=False),
    Column("price", Numeric(12, 2), nullable=False),
    Column("attrs", JSONB, nullable=False, server_default="{}"),
    Column("note", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    prefixes=["TEMPORARY"],  # created in each test's transaction, gone with its rollback
)

_INSERT = Query(
    insert(things).values(
        id=bindparam("id"),
        name=bindparam("name"),
        price=bindparam("price"),
        attrs=bindparam("attrs"),
        note=bindparam("note"),
    )
)
_BY_ID = Query(select(things).where(things.c.id == bindparam("id")))
_PRICE = Query(select(things.c.price).where(things.c.id == bindparam("id")))
_RENAME = Query(
    update(things).where(things.c.name == bindparam("old")).values(name=bindparam("new"))
)


@pytest.fixture
async def sql(engine: AsyncEngine) -> AsyncIterator[Sql]:
    """A Sql in a transaction that creates the table and is rolled back at the end."""
    connection, sql = await open_connection(engine)
    try:
        ddl = CreateTable(things).compile(dialect=postgresql.dialect())  # type: ignore[no-untyped-call]
        await sql.connection.execute(str(ddl))
        yield sql
    finally:
        await release(connection, sql)


def _thing(name: str, price: str = "12.34", **attrs: object) -> dict[str, object]:
    return {"id": uuid.uuid4(), "name": name, "price": Decimal(price), "attrs": attrs, "note": None}


async def test_a_query_fills_its_bindparams_and_rows_have_native_types(sql: Sql) -> None:
    thing = _thing("a", "0.10", tags=["x"], n={"deep": 1})
    assert await sql.execute(_INSERT, thing) == 1
    row = await sql.fetch_one(_BY_ID, {"id": thing["id"]})
    assert row is not None
    assert row["id"] == thing["id"]
    assert row["attrs"] == {"tags": ["x"], "n": {"deep": 1}}  # JSONB in and out as a dict
    assert row["price"] == Decimal("0.10")
    assert isinstance(row["price"], Decimal)
    assert row["note"] is None
    assert row["created_at"].tzinfo is not None  # the server default, with its time zone


async def test_a_decimal_parameter_stays_exact(sql: Sql) -> None:
    thing = _thing("b", "9999999999.99")
    await sql.execute(_INSERT, thing)
    assert await sql.scalar(_PRICE, {"id": thing["id"]}) == Decimal("9999999999.99")
    # Compared as numeric on the server, not as a float.
    same = select(func.count()).where(things.c.price == bindparam("p", type_=things.c.price.type))
    assert await sql.scalar(Query(same), {"p": Decimal("9999999999.99")}) == 1


async def test_values_written_into_a_statement_are_its_parameters(sql: Sql) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    thing_id = uuid.uuid4()
    statement = insert(things).values(
        id=thing_id, name="c", price=Decimal("1.50"), attrs={"k": "v"}, note=None, created_at=when
    )
    await sql.execute(statement)  # compiled on the spot
    row = await sql.fetch_one(select(things).where(things.c.id == thing_id))
    assert row is not None
    assert (row["attrs"], row["note"], row["created_at"]) == ({"k": "v"}, None, when)


async def test_an_in_list_compiled_on_the_spot(sql: Sql) -> None:
    await sql.execute_many(_INSERT, [_thing(name) for name in ("d", "e", "f")])
    query = select(things.c.name).where(things.c.name.in_(["d", "f", "z"])).order_by(things.c.name)
    assert [row["name"] for row in await sql.fetch_all(query)] == ["d", "f"]
    assert await sql.fetch_all(select(things).where(things.c.name.in_([]))) == []


async def test_execute_many_and_rowcount(sql: Sql) -> None:
    await sql.execute_many(_INSERT, [_thing("g"), _thing("g"), _thing("h")])
    await sql.execute_many(_INSERT, [])  # nothing to do, no round trip
    assert await sql.execute(_RENAME, {"old": "g", "new": "i"}) == 2
    assert await sql.execute(_RENAME, {"old": "nobody", "new": "j"}) == 0
    count = select(func.count()).select_from(things).where(things.c.name == "i")
    assert await sql.scalar(count) == 2


async def test_nothing_found(sql: Sql) -> None:
    assert await sql.fetch_one(_BY_ID, {"id": uuid.uuid4()}) is None
    assert await sql.scalar(_PRICE, {"id": uuid.uuid4()}) is None
    assert await sql.fetch_all(_BY_ID, {"id": uuid.uuid4()}) == []


def test_a_query_is_compiled_once_for_psycopg() -> None:
    assert "%(id)s" in _BY_ID.sql
    assert repr(_PRICE).startswith("Query(")
    with pytest.raises(KeyError):  # a bindparam without a value must be given
        _BY_ID.params({})["id"]
