"""`booking migrate` run by several processes at once (the init containers of replicas)."""

from __future__ import annotations

import asyncio
import os
import sys

from sqlalchemy import text

from sagakit.db import create_engine
from sagakit.testing import (
    DATABASE_PREFIX,
    code_head,
    database_url,
    drop_database,
    require_postgres,
)

HEAD = code_head("booking:migrations")


async def migrate_process(url: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "DATABASE_URL": url, "LOG_FORMAT": "text"}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "booking",
        "migrate",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def test_three_migrate_processes_on_a_new_database_all_succeed() -> None:
    await require_postgres()
    name = f"{DATABASE_PREFIX}booking_race"
    await drop_database(name)  # not even created: each process may try to create it
    url = database_url(name)
    processes = [await migrate_process(url) for _ in range(3)]
    outputs = [(await process.communicate())[0].decode() for process in processes]
    try:
        assert [process.returncode for process in processes] == [0, 0, 0], "\n".join(outputs)
        engine = create_engine(url)
        async with engine.connect() as conn:
            version = await conn.scalar(text("SELECT version_num FROM alembic_version"))
        await engine.dispose()
        assert version == HEAD
    finally:
        await drop_database(name)
