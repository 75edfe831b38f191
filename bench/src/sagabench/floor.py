"""The floor: what one round trip costs this Python stack, measured alone in this process.

A saga is a chain of round trips (HTTP requests, transactions, statements, stream reads
and acks), so these costs times the round trips one saga needs bound the throughput
from below the way pgbench and redis-benchmark bound it from above. CPU time of this
process only (the servers' share comes on top), on an otherwise idle machine.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from faststream import AckPolicy
from faststream.redis import RedisBroker, StreamSub
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

ROUNDS = 1000


async def _cpu_us(step: Callable[[], Awaitable[Any]], rounds: int = ROUNDS) -> float:
    for _ in range(20):  # warm caches, pools and prepared statements
        await step()
    started = time.process_time()
    for _ in range(rounds):
        await step()
    return round((time.process_time() - started) / rounds * 1e6, 1)


async def _sqlalchemy(database_url: str) -> dict[str, float]:
    engine = create_async_engine(make_url(database_url).set(drivername="postgresql+psycopg"))
    query = text("SELECT 1")

    async def transaction() -> None:
        async with engine.begin() as conn:
            await conn.execute(query)

    try:
        async with engine.connect() as conn:
            statement = await _cpu_us(lambda: conn.execute(query))
        return {
            "sqlalchemy_transaction_us": await _cpu_us(transaction),
            "sqlalchemy_statement_us": statement,
        }
    finally:
        await engine.dispose()


async def _psycopg(database_url: str) -> dict[str, float]:
    url = make_url(database_url)
    conninfo = psycopg.conninfo.make_conninfo(
        host=url.host or "", port=url.port or 5432, user=url.username or "",
        password=url.password or "", dbname=url.database or "postgres",
    )  # fmt: skip
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        return {"psycopg_statement_us": await _cpu_us(lambda: conn.execute("SELECT 1"))}


async def _faststream(redis_url: str, messages: int = 3000) -> dict[str, float]:
    """Read, hand to a handler and XACK one stream message, as the services do."""
    stream = f"sagabench-floor-{uuid.uuid4().hex[:8]}"
    quiet = logging.getLogger("sagabench.floor")
    quiet.setLevel(logging.ERROR)
    broker = RedisBroker(redis_url, apply_types=False, logger=quiet)
    handled = 0
    done = asyncio.Event()

    async def handler(body: bytes) -> None:
        nonlocal handled
        await broker.context.get_local("message").ack()
        handled += 1
        if handled == messages:
            done.set()

    sub = StreamSub(stream, group="floor", consumer="floor", max_records=50, polling_interval=100)
    broker.subscriber(stream=sub, ack_policy=AckPolicy.MANUAL)(handler)
    client = Redis.from_url(redis_url)
    try:
        await broker.start()
        async with client.pipeline(transaction=False) as pipe:
            for _ in range(messages):
                pipe.xadd(stream, {"__data__": b'{"event": "floor"}'})
            await pipe.execute()
        started = time.process_time()
        await asyncio.wait_for(done.wait(), 60)
        per_message = (time.process_time() - started) / messages * 1e6
    finally:
        await broker.stop()
        await client.delete(stream)
        await client.aclose()
    return {"faststream_consume_ack_us": round(per_message, 1)}


async def measure(database_url: str, redis_url: str) -> dict[str, float]:
    """CPU microseconds per operation of each layer, measured one after the other."""
    return {
        **await _sqlalchemy(database_url),
        **await _psycopg(database_url),
        **await _faststream(redis_url),
    }
