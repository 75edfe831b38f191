"""The watchdog restarts stopped subscribers, recreates groups after a reconnect, gives up."""

from sagakit.reconcile import Backoff
from sagakit.watchdog import Watchdog


class Sub:
    def __init__(self, running: bool = True, fails: bool = False) -> None:
        self.running = running
        self.fails = fails

    async def start(self) -> None:
        if self.fails:
            raise ConnectionError("NOGROUP again")
        self.running = True


class Redis:
    def __init__(self) -> None:
        self.up = True
        self.ensured = 0

    async def ping(self) -> None:
        if not self.up:
            raise ConnectionError("down")

    async def ensure(self) -> list[tuple[str, str]]:
        self.ensured += 1
        return [("stream", "group")]


def watchdog(subs: list[Sub], redis: Redis, give_up_after: float, reasons: list[str]) -> Watchdog:
    return Watchdog(
        lambda: subs,
        redis.ensure,
        redis.ping,
        interval=0.01,
        give_up_after=give_up_after,
        on_give_up=reasons.append,
    )


async def test_a_stopped_subscriber_is_started_again_after_its_groups() -> None:
    subs, redis, reasons = [Sub(), Sub(running=False)], Redis(), []
    dog = watchdog(subs, redis, 60, reasons)
    assert dog.describe().startswith("error: 1 of 2 subscribers stopped")
    assert await dog.round()
    assert all(sub.running for sub in subs) and redis.ensured == 1
    assert dog.describe() == "ok" and reasons == []


async def test_groups_are_recreated_as_soon_as_redis_answers_again() -> None:
    subs, redis, reasons = [Sub()], Redis(), []
    dog = watchdog(subs, redis, 60, reasons)
    redis.up = False
    assert await dog.round()
    redis.up = True
    assert await dog.round()
    assert redis.ensured == 1  # once, after the reconnect; not every round


async def test_it_gives_up_when_a_subscriber_cannot_be_restarted_within_the_bound() -> None:
    subs, redis, reasons = [Sub(running=False, fails=True)], Redis(), []
    dog = watchdog(subs, redis, 0, reasons)
    assert not await dog.round()
    assert len(reasons) == 1 and "subscribers stopped" in reasons[0]
    assert dog.describe().startswith("error:")


def test_the_reconcile_backoff_doubles_up_to_its_longest() -> None:
    from datetime import timedelta

    backoff = Backoff(timedelta(seconds=60), timedelta(minutes=10))
    assert [backoff.next_in(n).total_seconds() for n in (1, 2, 3, 4, 5, 50)] == [
        60,
        120,
        240,
        480,
        600,
        600,
    ]
