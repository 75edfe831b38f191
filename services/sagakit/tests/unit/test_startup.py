"""Starting: the schema gate's verdict, and retrying while a server does not answer."""

import logging

import pytest

from sagakit.migrations import Revisions
from sagakit.schema import SchemaState, compare
from sagakit.waiting import NotReachable, retry

CODE = Revisions(heads=frozenset({"0002"}), known=frozenset({"0001", "0002"}))


@pytest.mark.parametrize(
    ("database", "state"),
    [
        ((), SchemaState.BEHIND),  # no alembic_version yet: the Job has not run
        (("0001",), SchemaState.BEHIND),
        (("0002",), SchemaState.CURRENT),
        (("0003",), SchemaState.AHEAD),  # a newer release migrated, then a rollback
    ],
)
def test_the_database_revision_against_the_code(database: tuple[str, ...], state: str) -> None:
    assert compare(database, CODE) is state


async def test_retry_warns_at_each_failure_until_the_action_succeeds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    attempts = []

    async def connect() -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("refused")

    with caplog.at_level(logging.WARNING, logger="sagakit.waiting"):
        await retry(connect, wait=10, errors=(ConnectionError,), what="Redis", interval=0.01)
    assert len(attempts) == 3
    assert [r.getMessage() for r in caplog.records] == [
        "Redis not reachable yet (attempt 1: refused); retrying",
        "Redis not reachable yet (attempt 2: refused); retrying",
    ]


async def test_retry_gives_up_after_the_wait_with_a_message_saying_what() -> None:
    async def connect() -> None:
        raise ConnectionError("Connection refused")

    with pytest.raises(NotReachable, match=r"^Redis did not answer within 0.05 s \(Connection"):
        await retry(connect, wait=0.05, errors=(ConnectionError,), what="Redis", interval=0.01)


async def test_retry_does_not_hide_other_errors() -> None:
    async def broken() -> None:
        raise ValueError("a bug, not an outage")

    with pytest.raises(ValueError, match="a bug"):
        await retry(broken, wait=10, errors=(ConnectionError,), what="Redis")
