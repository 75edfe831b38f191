"""A real Prometheus scraping the five services: every shipped query finds data.

Prometheus runs with the shipped rule files as they are and a copy of the shipped
scrape config pointed at this stack's ports (every second). After a reserved, a
failed, a rejected saga and a dead letter, every query of the dashboards and the
recording rules must return series, every alert must parse over existing series,
and saga durations must carry their trace id as exemplar.
"""

import asyncio
import contextlib
import importlib.util
import re
import shutil
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from sagactl.verify import prometheus as verify_prometheus
from sagactl.verify.outcome import until_passing
from sagakit.deadletter import DeadLetter, DeadLetterQueue
from sagakit.testing import eventually, read_messages
from sagakit.tracing import trace_id


def load_queries() -> ModuleType:
    if "observability_queries" not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "observability" / "queries.py"
        spec = importlib.util.spec_from_file_location("observability_queries", path)
        assert spec is not None and spec.loader is not None
        sys.modules[spec.name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules["observability_queries"]


q = load_queries()
DASHBOARD_QUERIES = [query for path in q.DASHBOARDS for query in q.dashboard_queries(path)]
RECORDING_RULES = q.recording_rules()
ALERTS = q.alert_rules()


@dataclass
class Prometheus:
    """A Prometheus process and an HTTP client for its API."""

    url: str
    http: httpx.AsyncClient
    log: Path
    process: asyncio.subprocess.Process
    config: Path

    async def api(self, path: str, **params: str) -> dict[str, Any]:
        response = await self.http.get(f"{self.url}/api/v1/{path}", params=params)
        return dict(response.json())

    async def query(self, expr: str) -> dict[str, Any]:
        return await self.api("query", query=expr)

    async def series(self, expr: str, timeout: float) -> list[dict[str, Any]]:
        """The result of an instant query, waiting up to `timeout` for it to be non-empty."""
        deadline = time.monotonic() + timeout
        while True:
            answer = await self.query(expr)
            assert answer["status"] == "success", f"{expr}\n{answer}"
            if answer["data"]["result"] or time.monotonic() > deadline:
                return list(answer["data"]["result"])
            await asyncio.sleep(0.5)

    async def seen(self, expr: str) -> str:
        """Which metrics of an expression Prometheus has, to explain an empty answer."""
        lines = []
        for metric in sorted(q.metric_names(expr)):
            if (await self.query(f"group({metric})"))["data"]["result"]:
                state = "has series"
            elif (await self.query(f"group(last_over_time({metric}[10m]))"))["data"]["result"]:
                state = "was scraped earlier, no longer"
            else:
                state = "never scraped: no service exposes it"
            lines.append(f"  {metric}: {state}")
        return "\n".join(lines)

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text().splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape_config(streams: Any) -> dict[str, Any]:
    """The shipped config, scraping this stack's ports every second, rules unchanged."""
    config = q.load_yaml(q.PROMETHEUS / "prometheus.yml")
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = [str((q.PROMETHEUS / path).resolve()) for path in config["rule_files"]]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(q.SERVICES) <= set(jobs)
    for name in q.SERVICES:
        jobs[name]["static_configs"] = [{"targets": [urlsplit(streams.url(name)).netloc]}]
    config["scrape_configs"] = [jobs[name] for name in q.SERVICES]  # no collector here
    return config


@pytest.fixture(scope="module")
async def prometheus(
    streams, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Prometheus]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus not found: run scripts/ensure-tools.sh (installs Prometheus)")
    work = tmp_path_factory.mktemp("prometheus")
    (work / "prometheus.yml").write_text(yaml.safe_dump(scrape_config(streams)))
    port = free_port()
    log = work / "prometheus.log"
    with log.open("w") as out:
        process = await asyncio.create_subprocess_exec(
            binary,
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--enable-feature=exemplar-storage",
            stdout=out,
            stderr=out,
        )
    http = httpx.AsyncClient(timeout=10.0)
    server = Prometheus(f"http://127.0.0.1:{port}", http, log, process, work / "prometheus.yml")
    try:
        await wait_ready(server, process)
        yield server
    finally:
        await server.http.aclose()
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def wait_ready(server: Prometheus, process: asyncio.subprocess.Process) -> None:
    for _ in range(120):
        if process.returncode is not None:
            break
        with contextlib.suppress(httpx.HTTPError):
            if (await server.http.get(f"{server.url}/-/ready")).status_code == 200:
                return
        await asyncio.sleep(0.25)
    pytest.fail(f"Prometheus did not start\n{server.log_tail()}")


@dataclass
class Sagas:
    """What the scenarios left behind: the bookings by final state and their trace ids."""

    bookings: dict[str, str]
    traces: dict[str, str | None]


@pytest.fixture(scope="module")
async def sagas(streams, prometheus: Prometheus) -> AsyncIterator[Sagas]:
    """Reserved, failed and rejected sagas and a dead letter, then time to scrape them."""
    bookings = {
        "reserved": await reserved_saga(streams),
        "failed": await failed_saga(streams),
        "rejected": await rejected_saga(streams),
    }
    marker = f"prometheus-{uuid.uuid4()}"
    queue = DeadLetterQueue(streams.redis, streams.prefix + "saga.dead-letters")
    stream = streams.stream("APPROVED_BOOKING_EVENT")
    junk = await streams.redis.xadd(stream, {"junk": marker})

    async def ours() -> list[DeadLetter]:
        letters = await queue.list(count=1000)
        return [letter for letter in letters if letter.raw.get(b"junk") == marker.encode()]

    async def dead_lettered() -> bool:  # by both consumers of the stream
        return {letter.consumer for letter in await ours()} == {"booking", "billing"}

    try:
        assert await eventually(dead_lettered), "the junk was never dead-lettered"
        await prometheus.series("max(saga_dead_letters_messages) > 0", timeout=30)
        await prometheus.series("saga:sagas_completed:rate5m", timeout=30)
        await asyncio.sleep(3)  # a few more scrapes and rule evaluations
        yield Sagas(bookings, await saga_traces(streams, bookings))
    finally:  # other tests read every message of the stream and its dead letters as events
        await streams.redis.xdel(stream, junk)
        for letter in await ours():
            await queue.delete(letter.entry_id)


async def reserved_saga(streams: Any) -> str:
    booking_id = await streams.book(await streams.customer(Decimal("500.00")))
    await streams.billed(booking_id)
    await streams.pay(booking_id)
    await streams.booking_status(booking_id, "reserved")
    return str(booking_id)


async def failed_saga(streams: Any) -> str:
    booking_id = await streams.book(await streams.customer(Decimal("50.00")))
    await streams.billed(booking_id)
    await streams.pay(booking_id)
    await streams.booking_status(booking_id, "failed")
    return str(booking_id)


async def rejected_saga(streams: Any) -> str:
    await streams.restart("manager", {"AUTO_APPROVE": "false"})
    try:
        booking_id = await streams.book(await streams.customer(Decimal("500.00")))
        await streams.wait_for(
            "manager", f"/approvals/{booking_id}", lambda a: a["status"] == "pending"
        )
        await streams.client.decide(booking_id, approve=False, reason="no rooms left")
        await streams.booking_status(booking_id, "rejected")
    finally:
        await streams.restart("manager", {"AUTO_APPROVE": "true"})
    return str(booking_id)


async def saga_traces(streams: Any, bookings: dict[str, str]) -> dict[str, str | None]:
    """Each booking's trace id, as carried by its CREATED_BOOKING_EVENT."""
    messages = await read_messages(streams.redis, streams.stream("CREATED_BOOKING_EVENT"))
    by_booking = {str(envelope.booking_id): trace_id(headers) for envelope, headers in messages}
    return {outcome: by_booking.get(booking_id) for outcome, booking_id in bookings.items()}


async def test_prometheus_scrapes_the_five_services(prometheus: Prometheus, sagas: Sagas) -> None:
    targets = (await prometheus.api("targets"))["data"]["activeTargets"]
    health = {t["labels"]["job"]: (t["health"], t["lastError"]) for t in targets}
    assert health == dict.fromkeys(q.SERVICES, ("up", ""))


async def test_the_shipped_rules_load_and_evaluate(prometheus: Prometheus, sagas: Sagas) -> None:
    groups = (await prometheus.api("rules"))["data"]["groups"]
    loaded = {
        rule["name"]: (rule["health"], rule.get("lastError", ""))
        for group in groups
        for rule in group["rules"]
    }
    expected = dict.fromkeys([*RECORDING_RULES, *ALERTS], ("ok", ""))
    assert loaded == expected


@pytest.mark.parametrize("query", DASHBOARD_QUERIES, ids=lambda query: query.where)
async def test_dashboard_query_returns_data(prometheus: Prometheus, sagas: Sagas, query) -> None:
    result = await prometheus.series(query.live(), timeout=5)
    assert result, (
        f"{query.where}: no data for\n{query.live()}\n{await prometheus.seen(query.expr)}"
    )


@pytest.mark.parametrize("name", sorted(RECORDING_RULES))
async def test_recording_rule_returns_data(prometheus: Prometheus, sagas: Sagas, name: str) -> None:
    assert await prometheus.series(RECORDING_RULES[name], timeout=5), RECORDING_RULES[name]
    assert await prometheus.series(name, timeout=5), f"{name} was never recorded"


@pytest.mark.parametrize("name", sorted(ALERTS))
async def test_alert_reads_existing_series(prometheus: Prometheus, sagas: Sagas, name: str) -> None:
    expr = ALERTS[name]["expr"]
    answer = await prometheus.query(expr)
    assert answer["status"] == "success", answer
    missing = [
        metric
        for metric in sorted(q.metric_names(expr))
        if not await prometheus.series(f"group({metric})", timeout=5)
    ]
    assert missing == [], f"{name} reads metrics no service exposes"


async def test_saga_durations_carry_their_trace_id_as_exemplar(
    prometheus: Prometheus, sagas: Sagas
) -> None:
    now = time.time()
    answer = await prometheus.api(
        "query_exemplars",
        query="booking_saga_duration_seconds_bucket",
        start=str(now - 600),
        end=str(now + 60),
    )
    assert answer["status"] == "success", answer
    traces = {
        exemplar["labels"].get("trace_id")
        for series in answer["data"]
        for exemplar in series["exemplars"]
    }
    assert traces, "no exemplar on booking_saga_duration_seconds_bucket"
    assert all(re.fullmatch(r"[0-9a-f]{32}", str(trace)) for trace in traces), traces
    assert sagas.traces["reserved"] in traces, (sagas.traces, traces)


async def test_the_verifiers_prometheus_checks_pass(prometheus: Prometheus, sagas: Sagas) -> None:
    outcomes = await until_passing(
        lambda: verify_prometheus.check(prometheus.http, prometheus.url, q.SERVICES), 30, 1
    )
    assert [(o.name, o.ok) for o in outcomes] == [
        *((f"prometheus: up == 1 for {name}", True) for name in q.SERVICES),
        ("prometheus: a saga: recording rule returns data", True),
    ], outcomes


async def reload(prometheus: Prometheus, config: dict[str, Any], jobs: tuple[str, ...]) -> None:
    """Reload Prometheus with a config (SIGHUP) and wait until `up` has exactly these jobs.

    A dropped target's series end with staleness markers only a scrape interval or two
    later, so the wait is on the series, not on the target list.
    """
    prometheus.config.write_text(yaml.safe_dump(config))
    prometheus.process.send_signal(signal.SIGHUP)

    async def applied() -> bool:
        series = (await prometheus.query("up == 1"))["data"]["result"]
        return {s["metric"]["job"] for s in series} == set(jobs)

    assert await eventually(applied, timeout=30), prometheus.log_tail()


async def test_the_verifier_fails_when_a_service_is_not_scraped(
    prometheus: Prometheus, sagas: Sagas
) -> None:
    shipped = yaml.safe_load(prometheus.config.read_text())
    # The invoice job loses its target, as when a ServiceMonitor selects no invoice
    # Service. (Dropping the whole job would leave its last `up` for 5 minutes: Prometheus
    # writes no staleness markers for a removed scrape pool.)
    jobs = [
        {**job, "static_configs": []} if job["job_name"] == "invoice" else job
        for job in shipped["scrape_configs"]
    ]
    await reload(prometheus, {**shipped, "scrape_configs": jobs}, q.SERVICES[:-1])
    try:
        outcomes = await verify_prometheus.check(prometheus.http, prometheus.url, q.SERVICES)
    finally:
        await reload(prometheus, shipped, q.SERVICES)
    failed = {o.name: o.detail for o in outcomes if not o.ok}
    assert failed == {
        "prometheus: up == 1 for invoice": "no target with job=invoice: not scraped "
        "(ServiceMonitor missing?)"
    }
