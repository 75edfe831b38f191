"""The command: run the three groups of checks at once, each until it passes or time is up."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from sagactl.client import SERVICES
from sagactl.verify import grafana, jaeger, prometheus
from sagactl.verify.outcome import Attempt, Outcome, until_passing

# The uids the dashboards' panels name (prometheus) and their exemplar links open (jaeger),
# as provisioned by observability/grafana/provisioning/datasources/datasources.yaml.
DATASOURCES = ["prometheus", "jaeger"]
DASHBOARDS = Path("observability/grafana/dashboards")


@dataclass(frozen=True)
class Targets:
    """Where the backends answer (port-forwarded by `make port-forward`) and what to expect."""

    jaeger_url: str
    prometheus_url: str
    grafana_url: str
    grafana_auth: tuple[str, str] | None
    datasources: list[str]
    dashboards: list[str]
    services: tuple[str, ...] = field(default=SERVICES)


def reserved_bookings(path: Path) -> list[str]:
    """The booking ids that `sagactl demo --ids-file` wrote as reserved (all five services)."""
    bookings: dict[str, str] = json.loads(path.read_text())
    return [booking for booking, status in bookings.items() if status == "reserved"]


def bookings_to_trace(given: list[str], ids_file: Path | None) -> tuple[list[str], str]:
    """The booking ids to look for in Jaeger, and why there are none if so."""
    if given or ids_file is None:
        return given, "none given: pass --booking-id or --ids-file"
    try:
        return reserved_bookings(ids_file), f"no reserved booking in {ids_file}"
    except (OSError, ValueError, AttributeError) as exc:
        return [], f"cannot read {ids_file}: {exc} (did `sagactl demo --ids-file` run?)"


def _jaeger(http: httpx.AsyncClient, targets: Targets, bookings: list[str], why: str) -> Attempt:
    async def attempt() -> list[Outcome]:
        if not bookings:
            return [Outcome("jaeger: a reserved booking to look for", False, why)]
        return [
            await jaeger.saga_trace(http, targets.jaeger_url, booking, targets.services)
            for booking in bookings
        ]

    return attempt


async def verify(
    targets: Targets, bookings: tuple[list[str], str], timeout: float, interval: float = 5.0
) -> list[Outcome]:
    """Every check's last outcome, after retrying each group for up to `timeout` seconds."""
    auth = httpx.BasicAuth(*targets.grafana_auth) if targets.grafana_auth else None
    async with (
        httpx.AsyncClient(timeout=10.0) as http,
        httpx.AsyncClient(timeout=10.0, auth=auth) as grafana_http,
    ):
        groups: list[Attempt] = [
            _jaeger(http, targets, *bookings),
            lambda: prometheus.check(http, targets.prometheus_url, targets.services),
            lambda: grafana.check(
                grafana_http, targets.grafana_url, targets.datasources, targets.dashboards
            ),
        ]
        results = await asyncio.gather(*(until_passing(g, timeout, interval) for g in groups))
    return [outcome for group in results for outcome in group]


def report(console: Console, outcomes: list[Outcome]) -> bool:
    """Print one PASS/FAIL line per check; True when all passed."""
    for outcome in outcomes:
        mark = "[green]PASS[/]" if outcome.ok else "[red]FAIL[/]"
        console.print(f"{mark} {escape(outcome.name)}: {escape(outcome.detail)}", soft_wrap=True)
    passed = sum(outcome.ok for outcome in outcomes)
    console.print(f"observability: {passed} of {len(outcomes)} checks passed")
    return passed == len(outcomes)


def verify_observability(
    booking_id: list[str] = typer.Option([], help="A reserved booking to find in Jaeger."),
    ids_file: Path | None = typer.Option(None, help="The JSON `sagactl demo --ids-file` wrote."),
    jaeger_url: str = typer.Option("http://127.0.0.1:16686", envvar="JAEGER_URL"),
    prometheus_url: str = typer.Option("http://127.0.0.1:9090", envvar="PROMETHEUS_URL"),
    grafana_url: str = typer.Option("http://127.0.0.1:3000", envvar="GRAFANA_URL"),
    grafana_user: str = typer.Option("admin", envvar="GRAFANA_USER"),
    grafana_password: str | None = typer.Option(
        None, envvar="GRAFANA_PASSWORD", show_default=False, help="Best passed in the env."
    ),
    datasource: list[str] = typer.Option(DATASOURCES, help="Grafana data source uid."),
    dashboards: Path = typer.Option(DASHBOARDS, help="Where the Saga dashboards' JSON is."),
    timeout: float = typer.Option(300.0, help="Seconds to wait for late data, per backend."),
) -> None:
    """Check that a demo saga shows in Jaeger, Prometheus and Grafana (exit 1 if not)."""
    targets = Targets(
        jaeger_url=jaeger_url,
        prometheus_url=prometheus_url,
        grafana_url=grafana_url,
        grafana_auth=(grafana_user, grafana_password) if grafana_password else None,
        datasources=datasource,
        dashboards=grafana.dashboard_uids(dashboards),
    )
    console = Console()
    console.print(f"Checking Jaeger, Prometheus and Grafana (up to {timeout:.0f}s each)...")
    outcomes = asyncio.run(verify(targets, bookings_to_trace(booking_id, ids_file), timeout))
    raise typer.Exit(0 if report(console, outcomes) else 1)
