"""The `sagactl` command line."""

from __future__ import annotations

import asyncio
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sagactl import auth, deadletters, demo, devstack, keyfiles, session
from sagactl.backends import MissingServer, resolve
from sagactl.client import SERVICES, Endpoints, SagaClient
from sagactl.render import Record, status_table, timeline_view
from sagactl.verify import command as verify_command

app = typer.Typer(no_args_is_help=True, add_completion=False)
app.callback()(session.identity)
app.add_typer(deadletters.app, name="dlq")
app.add_typer(keyfiles.event_keys, name="event-keys")
app.add_typer(keyfiles.redis_users, name="redis-users")
app.command("verify-observability")(verify_command.verify_observability)
console = Console()


@app.command()
def up(
    embedded: bool = typer.Option(False, help="Always start private Postgres and Redis."),
    transport: str = typer.Option("streams", envvar="EVENT_TRANSPORT", help="streams or pubsub."),
    auto_approve: bool = typer.Option(True, envvar="AUTO_APPROVE", help="Manager approves alone."),
    state_dir: Path = typer.Option(Path(".local"), help="Where private servers keep their data."),
    base_port: int = typer.Option(8001, envvar="SAGA_BASE_PORT", help="Port of booking; +1..+4."),
    log_format: str = typer.Option("text", envvar="LOG_FORMAT", help="text or json log lines."),
    auth_mode: str = typer.Option(
        "dev", envvar="AUTH_MODE", help="dev: tokens signed with a local key; oidc: AUTH_ISSUER's."
    ),
    dev_key_file: Path = typer.Option(
        auth.DEFAULT_KEY_FILE,
        envvar="SAGA_DEV_KEY_FILE",
        help="The dev signing key (AUTH_MODE=dev), created if missing.",
    ),
) -> None:
    """Start the five services (and private servers if none answer) until Ctrl-C."""
    if auth_mode not in ("dev", "oidc"):
        console.print(f"[red]--auth-mode must be dev or oidc, not {auth_mode!r}")
        raise typer.Exit(2)
    key = devstack.dev_key(dev_key_file) if auth_mode == "dev" else None
    try:
        backends = resolve(state_dir.resolve(), force_embedded=embedded)
    except MissingServer as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(2) from exc
    extra = {
        "EVENT_TRANSPORT": transport,
        "AUTO_APPROVE": str(auto_approve).lower(),
        "LOG_FORMAT": log_format,
        "AUTH_MODE": auth_mode,
    }
    try:
        code = asyncio.run(devstack.run(backends, extra, base_port, key, state_dir.resolve()))
    finally:
        backends.stop()
    raise typer.Exit(code)


@app.command("demo")
def run_demo(
    ctx: typer.Context,
    timeout: float = typer.Option(30.0, help="Seconds to wait for each saga."),
    ids_file: Path | None = typer.Option(
        None, help="Write {booking id: final status} here as JSON (for verify-observability)."
    ),
) -> None:
    """Show the pattern: one booking reserved, one failed by compensation."""
    if ctx.obj:
        console.print("[red]the demo acts as admin, manager and its customers itself: drop --as")
        raise typer.Exit(2)
    result = session.with_client(ctx, lambda client: demo.run_demo(client, console, timeout), True)
    if ids_file is not None:
        ids_file.parent.mkdir(parents=True, exist_ok=True)
        ids_file.write_text(json.dumps(result.bookings, indent=2) + "\n")
    raise typer.Exit(0 if result.ok else 1)


@app.command()
def status(ctx: typer.Context, booking_id: uuid.UUID) -> None:
    """What each of the five services knows about a booking, and its saga (read as admin)."""

    async def action(client: SagaClient) -> tuple[dict[str, Record], Record]:
        return await client.snapshot(str(booking_id)), await client.timeline(str(booking_id))

    snapshot, timeline = session.with_client(ctx, action)
    console.print(status_table(str(booking_id), snapshot))
    console.print(timeline_view(str(booking_id), timeline, snapshot))


@app.command()
def token(ctx: typer.Context) -> None:
    """Print a dev token for --as NAME (default admin), e.g. for /docs' Authorize button."""
    try:
        tokens = auth.from_environment(signing=True)
    except auth.NoCredentials as exc:
        console.print(f"[red]{exc}", highlight=False)
        raise typer.Exit(2) from exc
    typer.echo(tokens.token(ctx.obj or auth.ADMIN))


@app.command("wait-ready")
def wait_ready(timeout: float = typer.Option(60.0, help="Seconds to wait.")) -> None:
    """Wait until all five services answer /readyz."""

    async def action() -> bool:
        client = SagaClient(Endpoints())  # /readyz is open: no token
        try:
            for _ in range(int(timeout * 5)):
                if all([await client.ready(name) for name in SERVICES]):
                    return True
                await asyncio.sleep(0.2)
            return False
        finally:
            await client.aclose()

    if not asyncio.run(action()):
        console.print("[red]not all services are ready")
        raise typer.Exit(1)
    console.print("all five services are ready")


@app.command()
def credit(ctx: typer.Context, customer_id: str, amount: Decimal) -> None:
    """Set a customer's available credit (as admin)."""
    console.print(session.with_client(ctx, lambda client: client.set_credit(customer_id, amount)))


@app.command()
def book(
    ctx: typer.Context,
    customer_id: str,
    amount: Decimal,
    item: Annotated[str, typer.Option(help="What is booked.")] = "Room",
) -> None:
    """Create a booking (as that customer); retried safely with one Idempotency-Key."""
    console.print(session.with_client(ctx, lambda client: client.book(customer_id, item, amount)))


@app.command()
def pay(ctx: typer.Context, booking_id: str) -> None:
    """Submit the payment of a booking (as its customer)."""

    async def action(client: SagaClient) -> tuple[int, object]:
        response = await client.pay(booking_id, await session.payer(client, booking_id))
        return response.status_code, response.json()

    console.print(*session.with_client(ctx, action))


@app.command()
def approve(ctx: typer.Context, booking_id: str) -> None:
    """Approve a pending booking as the manager (manual approval mode)."""
    console.print(session.with_client(ctx, lambda client: client.decide(booking_id, approve=True)))


@app.command()
def reject(
    ctx: typer.Context, booking_id: str, reason: str = typer.Option("rejected by manager")
) -> None:
    """Reject a pending booking as the manager (manual approval mode)."""
    console.print(session.with_client(ctx, lambda client: client.decide(booking_id, False, reason)))


@app.command()
def reconcile(
    ctx: typer.Context,
    booking_id: Annotated[str | None, typer.Argument(help="The booking to reconcile.")] = None,
    stuck: Annotated[
        bool, typer.Option("--stuck", help="Every saga that stopped moving, now.")
    ] = False,
) -> None:
    """Ask every service to re-publish its events of a saga, or of every stuck one (admin).

    Consumers skip what they already handled, so this is safe at any time; a saga whose
    events Redis lost moves on (docs/reliability.md, "When the broker forgets").
    """
    if (booking_id is None) == (not stuck):
        console.print("give a BOOKING_ID or --stuck (not both)")
        raise typer.Exit(2)
    asked = session.with_client(ctx, lambda client: client.reconcile(booking_id))
    console.print(f"asked every service about {len(asked['booking_ids'])} sagas")
    for asked_id in asked["booking_ids"]:
        console.print(asked_id)


def main() -> None:
    """Console script entry point."""
    app()
