"""Who the commands act as (`sagactl --as NAME`, SAGA_AS) and the client they call with."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich.console import Console

from sagactl import auth
from sagactl.client import ApiError, Endpoints, SagaClient

console = Console()
T = TypeVar("T")
REFUSED = (
    "401: the token was not accepted (is SAGA_DEV_KEY_FILE the key the services use? has "
    "SAGA_TOKEN expired?). 403: that identity may not do this (--as; docs/security.md)."
)


def identity(
    ctx: typer.Context,
    as_: str | None = typer.Option(
        None,
        "--as",
        envvar="SAGA_AS",
        metavar="NAME",
        help="Call the services as NAME: admin, manager, or a customer id. Default: who "
        "each command needs (credit: admin; book, pay: the customer; approve, reject: "
        "manager; status: admin).",
    ),
) -> None:
    """Run, demo and inspect the booking saga."""
    ctx.obj = as_ or None


def with_client(
    ctx: typer.Context, action: Callable[[SagaClient], Awaitable[T]], signing: bool = False
) -> T:
    """Run `action` with a client whose tokens come from SAGA_TOKEN or the dev key.

    `signing`: the action needs tokens for several identities (the dev key, not a token).
    """
    try:
        tokens = auth.from_environment(signing=signing)
    except auth.NoCredentials as exc:
        console.print(f"[red]{exc}", highlight=False)
        raise typer.Exit(2) from exc

    async def run() -> T:
        client = SagaClient(Endpoints(), tokens=tokens, acting_as=ctx.obj)
        try:
            return await action(client)
        finally:
            await client.aclose()

    try:
        return asyncio.run(run())
    except ApiError as exc:
        console.print(f"[red]{exc}", highlight=False)
        if exc.status_code in (401, 403):
            console.print(REFUSED, highlight=False)
        raise typer.Exit(1) from exc


async def payer(client: SagaClient, booking_id: str) -> str:
    """Who pays a booking: --as; else, with the dev key, its customer (read as admin)."""
    if client.acting_as or client.tokens is None or not client.tokens.per_identity:
        return client.acting_as or ""  # a ready token (SAGA_TOKEN) says who it is itself
    customer = await client.owner(booking_id)
    if customer is None:
        raise ApiError(f"no booking {booking_id}", 404)
    return customer
