"""Server CPU of the real local Postgres and Redis: found, non-negative, growing with work."""

import pytest
import redis
from sqlalchemy import create_engine, text

from sagabench.servercpu import ServerCpu
from sagakit.testing import POSTGRES_URL, REDIS_URL, eventually, require_postgres, require_redis


@pytest.fixture
async def cpu() -> ServerCpu:
    await require_postgres()
    await require_redis()
    return ServerCpu(POSTGRES_URL, REDIS_URL)


async def test_postgres_cpu_is_its_own_and_grows_when_it_works(cpu: ServerCpu) -> None:
    assert cpu.postmaster is not None, cpu.postgres_source  # the servers run on this machine
    before = cpu.postgres()
    assert before is not None and before >= 0
    engine = create_engine(POSTGRES_URL)
    with engine.connect() as conn:  # a backend that works, then exits
        conn.scalar(text("SELECT sum(i) FROM generate_series(1, 5000000) AS i"))
    engine.dispose()

    # The exited backend counts once the postmaster has reaped it (cutime), a moment later.
    async def grown() -> bool:
        after = cpu.postgres()
        assert after is not None
        return after - before > 0.02

    assert await eventually(grown, timeout=5.0, interval=0.1)


async def test_redis_cpu_is_its_own_and_grows_when_it_works(cpu: ServerCpu) -> None:
    before = cpu.redis()
    assert before >= 0
    client = redis.Redis.from_url(REDIS_URL)
    client.eval("local i = 0 while i < 3000000 do i = i + 1 end return i", 0)  # ~50 ms
    client.close()
    assert cpu.redis() - before >= 0.01
