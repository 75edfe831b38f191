"""The ACL users on a real Redis: each service writes only its own events and reads only what
it hears. The users are created under a prefix of the test's own and deleted after it."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis
from redis.exceptions import NoPermissionError

from sagakit import acl, housekeeping
from sagakit.testing import REDIS_URL, require_redis, unique_prefix

DEAD = "saga.dead-letters"
Connect = Callable[[str], Awaitable[Redis]]


@pytest.fixture
async def prefix(redis: Redis) -> AsyncIterator[str]:
    await require_redis()
    prefix = unique_prefix()
    yield prefix
    await acl.delete_users(redis, acl.all_rules(prefix, DEAD))


@pytest.fixture
async def connect(redis: Redis, prefix: str) -> AsyncIterator[Connect]:
    """A client logged in as one of the users (created here, on the test's own prefix)."""
    passwords = {user: secrets.token_urlsafe(16) for user in acl.all_rules(prefix, DEAD)}
    try:
        await acl.create_users(redis, prefix, DEAD, passwords)
    except NoPermissionError as exc:
        pytest.fail(f"{REDIS_URL} does not let the tests create ACL users: {exc}", pytrace=False)
    clients: list[Redis] = []

    async def as_user(name: str) -> Redis:
        user = acl.username(name, prefix)
        client = Redis.from_url(REDIS_URL, username=user, password=passwords[user])
        clients.append(client)
        return client

    yield as_user
    for client in clients:
        await client.aclose()


async def test_a_service_publishes_its_own_events_and_nobody_elses(connect, prefix) -> None:
    payment = await connect("payment")
    await payment.xadd(prefix + "PAID_BOOKING_EVENT", {"__data__": "x"})
    await payment.xadd(prefix + DEAD, {"origin": "x"})
    await payment.publish(prefix + "INSUFFICIENT_FUND_EVENT", "x")
    with pytest.raises(NoPermissionError, match="keys"):
        await payment.xadd(prefix + "INVOICE_GENERATED_EVENT", {"__data__": "x"})
    with pytest.raises(NoPermissionError, match="keys"):
        await payment.xadd(prefix + "BILLED_BOOKING_EVENT", {"__data__": "x"})  # one it hears
    with pytest.raises(NoPermissionError, match="channel"):
        await payment.publish(prefix + "BILLED_BOOKING_EVENT", "x")


async def test_a_service_reads_only_the_streams_it_hears(connect, prefix) -> None:
    invoice = await connect("invoice")
    paid, billed = prefix + "PAID_BOOKING_EVENT", prefix + "BILLED_BOOKING_EVENT"
    await invoice.xgroup_create(paid, "invoice", id="$", mkstream=True)
    assert await invoice.xreadgroup("invoice", "c1", {paid: ">"}, count=1) == []
    assert await invoice.xinfo_groups(paid)
    with pytest.raises(NoPermissionError):
        await invoice.xgroup_create(billed, "invoice", id="$", mkstream=True)
    with pytest.raises(NoPermissionError):
        await invoice.xreadgroup("invoice", "c1", {billed: ">"}, count=1)
    with pytest.raises(NoPermissionError):
        await invoice.xrange(paid)  # not a consumer-group command: not needed, not allowed
    with pytest.raises(NoPermissionError):
        await invoice.xrange(prefix + DEAD)


async def test_a_service_does_its_housekeeping_on_what_it_hears_only(
    connect, prefix, redis: Redis
) -> None:
    invoice = await connect("invoice")
    paid, billed = prefix + "PAID_BOOKING_EVENT", prefix + "BILLED_BOOKING_EVENT"
    await invoice.xgroup_create(paid, "invoice", id="$", mkstream=True)
    await redis.xgroup_create(billed, "invoice", id="$", mkstream=True)
    await invoice.xadd(prefix + DEAD, {"origin": "x"}, id="1-0")  # from 1970: expired
    try:
        assert await housekeeping.trim_dead_letters(invoice, prefix + DEAD, days=1) == 1
        assert await housekeeping.reap_consumers(invoice, [(paid, "invoice")], "me", 1) == []
        with pytest.raises(NoPermissionError):
            await housekeeping.reap_consumers(invoice, [(billed, "invoice")], "me", 1)
        with pytest.raises(NoPermissionError):
            await housekeeping.trim_dead_letters(invoice, billed, days=1)
    finally:
        await redis.delete(paid, billed, prefix + DEAD)


async def test_a_service_subscribes_only_to_the_channels_it_hears(connect, prefix) -> None:
    invoice = await connect("invoice")
    heard = invoice.pubsub()
    await heard.subscribe(prefix + "PAID_BOOKING_EVENT")
    await heard.aclose()
    foreign = invoice.pubsub()
    with pytest.raises(NoPermissionError):
        await foreign.subscribe(prefix + "BILLED_BOOKING_EVENT")
        await foreign.get_message(timeout=1)
    await foreign.aclose()


@pytest.mark.parametrize(
    "command",
    [
        ("FLUSHALL",),
        ("CONFIG", "GET", "*"),
        ("KEYS", "*"),
        ("ACL", "LIST"),
        ("EVAL", "return 1", "0"),
        ("SET", "anything", "x"),
    ],
)
async def test_no_service_may_run_admin_commands(connect, command: tuple[str, ...]) -> None:
    for name in ("booking", "operator"):
        client = await connect(name)
        with pytest.raises(NoPermissionError):
            await client.execute_command(*command)


async def test_the_operator_redrives_and_deletes_dead_letters_and_nothing_else(
    connect, prefix, redis: Redis
) -> None:
    operator = await connect("operator")
    entry = await redis.xadd(prefix + DEAD, {"origin": prefix + "PAID_BOOKING_EVENT"})
    assert [entry_id for entry_id, _ in await operator.xrange(prefix + DEAD)] == [entry]
    assert await operator.xlen(prefix + DEAD) == 1
    await operator.xadd(prefix + "PAID_BOOKING_EVENT", {"__data__": "x"})
    await operator.publish(prefix + "PAID_BOOKING_EVENT", "x")
    assert await operator.xdel(prefix + DEAD, entry) == 1
    with pytest.raises(NoPermissionError):
        await operator.xadd(prefix + "elsewhere", {"__data__": "x"})
    with pytest.raises(NoPermissionError):
        await operator.xrange(prefix + "PAID_BOOKING_EVENT")
    with pytest.raises(NoPermissionError):
        await operator.xadd(prefix + DEAD, {"origin": "forged"})
