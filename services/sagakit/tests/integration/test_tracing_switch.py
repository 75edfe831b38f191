"""Which spans a process makes: TRACE_SQL_STATEMENTS, TRACE_REDIS_COMMANDS, OTEL_SDK_DISABLED.

Instrumentation patches libraries for the whole process and the tracer provider is set
once, so each case runs in a process of its own and reports what it saw as JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import pytest

from sagakit.testing import POSTGRES_URL, REDIS_URL, require_postgres, require_redis

PROBE = """
import asyncio, json, sys
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from redis.asyncio import Redis
from sqlalchemy import text
from sagakit import db, telemetry
from sagakit.settings import ServiceSettings
from sagakit.transport import EventBus

settings = ServiceSettings()
telemetry.configure(
    "probe",
    sql_statements=settings.trace_sql_statements,
    redis_commands=settings.trace_redis_commands,
)
exporter = InMemorySpanExporter()
if telemetry.enabled():
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(exporter))


async def main() -> None:
    engine = db.create_engine(sys.argv[1])
    telemetry.instrument_engine(engine)
    redis = Redis.from_url(sys.argv[2])
    bus = EventBus(settings, redis)
    tracer = trace.get_tracer("probe")
    with tracer.start_as_current_span("handling", kind=trace.SpanKind.SERVER):
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        await redis.ping()
    await redis.aclose()
    await engine.dispose()
    print(json.dumps({
        "spans": sorted(span.name for span in exporter.get_finished_spans()),
        "redis_wrapped": hasattr(Redis.execute_command, "__wrapped__"),
        "broker_middlewares": len(bus.broker.middlewares),
    }))


asyncio.run(main())
"""


async def probe(**env: str) -> dict[str, Any]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACE_"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PROBE,
        POSTGRES_URL,
        REDIS_URL,
        env={**clean, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    result: dict[str, Any] = json.loads(out.decode().splitlines()[-1])
    return result


@pytest.fixture(autouse=True)
async def servers() -> None:
    await require_postgres()
    await require_redis()


async def test_by_default_only_the_saga_hops_are_traced() -> None:
    seen = await probe(OTEL_SDK_DISABLED="false")
    # The hops' producer and consumer spans are sagakit.tracing's own: no middleware.
    assert seen == {"spans": ["handling"], "redis_wrapped": False, "broker_middlewares": 0}


@pytest.mark.parametrize(
    ("setting", "names"),
    [("TRACE_SQL_STATEMENTS", ("connect", "SELECT ")), ("TRACE_REDIS_COMMANDS", ("PING",))],
)
async def test_each_setting_adds_its_spans(setting: str, names: tuple[str, ...]) -> None:
    seen = await probe(OTEL_SDK_DISABLED="false", **{setting: "true"})
    added = [name for name in seen["spans"] if name != "handling"]
    # Its own library's spans, and none of the other's.
    assert added and all(name.startswith(names) for name in added), seen["spans"]
    assert seen["redis_wrapped"] is (setting == "TRACE_REDIS_COMMANDS")


async def test_with_the_sdk_disabled_nothing_is_instrumented() -> None:
    seen = await probe(
        OTEL_SDK_DISABLED="true", TRACE_SQL_STATEMENTS="true", TRACE_REDIS_COMMANDS="true"
    )
    # No span, no wrapper around redis-py, no middleware.
    assert seen == {"spans": [], "redis_wrapped": False, "broker_middlewares": 0}
