"""The `sagactl` command line."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from sagactl import deadletters, demo, devstack, keyfiles
from sagactl.backends import MissingServer, resolve
from sagactl.client import SERVICES, Endpoints, SagaClient
from sagactl.render import Record, status_table, timeline_view
from sagactl.verify import command as verify_command

app = typer.Typer(
    help="Run, demo and inspect the booking saga.", no_args_is_help=True, add_completion=False
)
app.add_typer(deadletters.app, name="dlq")
app.add_typer(keyfiles.event_keys, name="event-keys")
app.add_typer(keyfiles.redis_users, name="redis-users")
app.command("verify-observability")(verify_command.verify_observability)
console = Console()
T = TypeVar("T")


def _with_client(action: Callable[[SagaClient], Awaitable[T]]) -> T:
    async def run() -> T:
        client = SagaClient(Endpoints())
        try:
            return await action(client)
        finally:
            await client.aclose()

    return asyncio.run(run())


@app.command()
def up(
    embedded: bool = typer.Option(False, help="Always start private Postgres and Redis."),
    transport: str = typer.Option("streams", envvar="EVENT_TRANSPORT", help="streams or pubsub."),
    auto_approve: bool = typer.Option(True, envvar="AUTO_APPROVE", help="Manager approves alone."),
    state_dir: Path = typer.Option(Path(".local"), help="Where private servers keep their data."),
    base_port: int = typer.Option(8001, envvar="SAGA_BASE_PORT", help="Port of booking; +1..+4."),
    log_format: str = typer.Option("text", envvar="LOG_FORMAT", help="text or json log lines."),
) -> None:
    """Start the five services (and private servers if none answer) until Ctrl-C."""
    try:
        backends = resolve(state_dir.resolve(), force_embedded=embedded)
    except MissingServer as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(2) from exc
    extra = {
        "EVENT_TRANSPORT": transport,
        "AUTO_APPROVE": str(auto_approve).lower(),
        "LOG_FORMAT": log_format,
    }
    try:
        code = asyncio.run(devstack.run(backends, extra, base_port, state_dir.resolve()))
    finally:
        backends.stop()
    raise typer.Exit(code)


@app.command("demo")
def run_demo(
    timeout: float = typer.Option(30.0, help="Seconds to wait for each saga."),
    ids_file: Path | None = typer.Option(
        None, help="Write {booking id: final status} here as JSON (for verify-observability)."
    ),
) -> None:
    """Show the pattern: one booking reserved, one failed by compensation."""
    result = _with_client(lambda client: demo.run_demo(client, console, timeout))
    if ids_file is not None:
        ids_file.parent.mkdir(parents=True, exist_ok=True)
        ids_file.write_text(json.dumps(result.bookings, indent=2) + "\n")
    raise typer.Exit(0 if result.ok else 1)


@app.command()
def status(booking_id: uuid.UUID) -> None:
    """What each of the five services knows about a booking, and its saga step by step."""

    async def action(client: SagaClient) -> tuple[dict[str, Record], Record]:
        return await client.snapshot(str(booking_id)), await client.timeline(str(booking_id))

    snapshot, timeline = _with_client(action)
    console.print(status_table(str(booking_id), snapshot))
    console.print(timeline_view(str(booking_id), timeline))


@app.command("wait-ready")
def wait_ready(timeout: float = typer.Option(60.0, help="Seconds to wait.")) -> None:
    """Wait until all five services answer /readyz."""

    async def action(client: SagaClient) -> bool:
        for _ in range(int(timeout * 5)):
            if all([await client.ready(name) for name in SERVICES]):
                return True
            await asyncio.sleep(0.2)
        return False

    if not _with_client(action):
        console.print("[red]not all services are ready")
        raise typer.Exit(1)
    console.print("all five services are ready")


@app.command()
def credit(customer_id: str, amount: Decimal) -> None:
    """Set a customer's available credit."""
    console.print(_with_client(lambda client: client.set_credit(customer_id, amount)))


@app.command()
def book(
    customer_id: str,
    amount: Decimal,
    item: Annotated[str, typer.Option(help="What is booked.")] = "Room",
) -> None:
    """Create a booking."""
    console.print(_with_client(lambda client: client.book(customer_id, item, amount)))


@app.command()
def pay(booking_id: str) -> None:
    """Submit the payment of a booking."""
    response = _with_client(lambda client: client.pay(booking_id))
    console.print(response.status_code, response.json())


@app.command()
def approve(booking_id: str) -> None:
    """Approve a pending booking (manual approval mode)."""
    console.print(_with_client(lambda client: client.decide(booking_id, approve=True)))


@app.command()
def reject(booking_id: str, reason: str = typer.Option("rejected by manager")) -> None:
    """Reject a pending booking (manual approval mode)."""
    console.print(_with_client(lambda client: client.decide(booking_id, False, reason)))


def main() -> None:
    """Console script entry point."""
    app()
