"""`sagactl dlq`: list, show, redrive and delete dead letters (talks to Redis directly)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from redis.asyncio import Redis
from rich.console import Console
from rich.table import Table

from sagactl.terminal import markup
from sagakit.deadletter import DeadLetterQueue

app = typer.Typer(help="Dead letters: messages a consumer gave up on.", no_args_is_help=True)
console = Console()
T = TypeVar("T")

RedisUrl = Annotated[str, typer.Option(envvar="REDIS_URL", help="Redis holding the streams.")]
Prefix = Annotated[str, typer.Option(envvar="EVENT_PREFIX", help="Stream name prefix.")]
Stream = Annotated[str, typer.Option(envvar="DEAD_LETTER_STREAM", help="Dead-letter stream.")]
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
DEFAULT_STREAM = "saga.dead-letters"


def _with_queue(
    redis_url: str, prefix: str, stream: str, action: Callable[[DeadLetterQueue], Awaitable[T]]
) -> T:
    async def run() -> T:
        redis = Redis.from_url(redis_url)
        try:
            return await action(DeadLetterQueue(redis, prefix + stream))
        finally:
            await redis.aclose()

    return asyncio.run(run())


@app.command("list")
def list_letters(
    count: int = typer.Option(50, help="How many, oldest first."),
    redis_url: RedisUrl = DEFAULT_REDIS,
    prefix: Prefix = "",
    stream: Stream = DEFAULT_STREAM,
) -> None:
    """List dead letters, oldest first."""
    letters = _with_queue(redis_url, prefix, stream, lambda q: q.list(count))
    table = Table(title=f"{len(letters)} dead letter(s) in {prefix + stream}", title_justify="left")
    for column in ("id", "failed at", "consumer", "origin", "event", "deliveries", "error"):
        table.add_column(column)
    for letter in letters:
        event = f"{letter.event_type} {letter.event_id}".strip() or "(unreadable)"
        cells = (letter.entry_id, letter.failed_at, letter.consumer, letter.origin, event)
        table.add_row(*map(markup, cells), str(letter.deliveries), markup(letter.error[:80]))
    console.print(table)


@app.command()
def show(
    entry_id: str,
    redis_url: RedisUrl = DEFAULT_REDIS,
    prefix: Prefix = "",
    stream: Stream = DEFAULT_STREAM,
) -> None:
    """Show one dead letter with the original message."""
    letter = _with_queue(redis_url, prefix, stream, lambda q: q.get(entry_id))
    if letter is None:
        console.print(f"[red]no dead letter {entry_id}")
        raise typer.Exit(1)
    for name in (
        "entry_id",
        "failed_at",
        "consumer",
        "transport",
        "origin",
        "origin_id",
        "event_type",
        "event_id",
        "deliveries",
        "error",
    ):
        console.print(f"[bold]{name}:[/] {markup(getattr(letter, name))}", highlight=False)
    console.print("[bold]original fields:[/]")
    console.print(markup(letter.raw_text()), highlight=False)


@app.command()
def redrive(
    entry_ids: Annotated[list[str] | None, typer.Argument(help="Entries to redrive.")] = None,
    all_: bool = typer.Option(False, "--all", help="Redrive every dead letter."),
    redis_url: RedisUrl = DEFAULT_REDIS,
    prefix: Prefix = "",
    stream: Stream = DEFAULT_STREAM,
) -> None:
    """Send dead letters back to where they came from (consumers that handled them skip them)."""

    async def action(queue: DeadLetterQueue) -> list[str]:
        ids = [letter.entry_id for letter in await queue.list(10_000)] if all_ else entry_ids or []
        return [f"{entry} -> {await queue.redrive(entry) or 'published'}" for entry in ids]

    for line in _with_queue(redis_url, prefix, stream, action):
        console.print(f"redriven {markup(line)}")


@app.command()
def delete(
    entry_id: str,
    redis_url: RedisUrl = DEFAULT_REDIS,
    prefix: Prefix = "",
    stream: Stream = DEFAULT_STREAM,
) -> None:
    """Drop a dead letter for good."""
    deleted = _with_queue(redis_url, prefix, stream, lambda q: q.delete(entry_id))
    console.print("deleted" if deleted else f"[red]no dead letter {entry_id}")
