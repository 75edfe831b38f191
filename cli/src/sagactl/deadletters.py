"""`sagactl dlq`: list, show, redrive and delete dead letters (talks to Redis directly).

Operators connect as their own Redis user, which may read and delete dead letters and
write the event streams, nothing else: REDIS_URL with that user (the chart's Secret
holds it), or, when REDIS_URL is not set, what `sagactl up` wrote to
.local/events/operator.env. A redrive re-verifies each message with every producer's
public key (EVENT_VERIFY_KEYS) and refuses what the consumers would refuse.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from redis.asyncio import Redis
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sagactl.eventsecurity import Target, target
from sagactl.terminal import markup, plain
from sagakit.authenticity import Authenticity
from sagakit.deadletter import DeadLetter, DeadLetterQueue, RedriveRefused, redrive_problem

app = typer.Typer(help="Dead letters: messages a consumer gave up on.", no_args_is_help=True)
console = Console()
T = TypeVar("T")

RedisUrl = Annotated[
    str | None, typer.Option(envvar="REDIS_URL", help="Redis, as the operator's user.")
]
Prefix = Annotated[str | None, typer.Option(envvar="EVENT_PREFIX", help="Stream name prefix.")]
Stream = Annotated[str, typer.Option(envvar="DEAD_LETTER_STREAM", help="Dead-letter stream.")]
VerifyKeys = Annotated[
    str | None,
    typer.Option(envvar="EVENT_VERIFY_KEYS", help="Every producer's public keys.", hidden=True),
]
DEFAULT_STREAM = "saga.dead-letters"


def _with_queue(where: Target, action: Callable[[DeadLetterQueue], Awaitable[T]]) -> T:
    async def run() -> T:
        redis = Redis.from_url(where.redis_url)
        try:
            return await action(DeadLetterQueue(redis, where.prefix + where.stream))
        finally:
            await redis.aclose()

    return asyncio.run(run())


@app.command("list")
def list_letters(
    count: int = typer.Option(50, help="How many, oldest first."),
    redis_url: RedisUrl = None,
    prefix: Prefix = None,
    stream: Stream = DEFAULT_STREAM,
) -> None:
    """List dead letters, oldest first."""
    where = target(redis_url, prefix, stream, "")
    letters = _with_queue(where, lambda q: q.list(count))
    console.print(_table(f"{len(letters)} dead letter(s) in {where.prefix + stream}", letters))


@app.command()
def show(
    entry_id: str,
    redis_url: RedisUrl = None,
    prefix: Prefix = None,
    stream: Stream = DEFAULT_STREAM,
) -> None:
    """Show one dead letter with the original message."""
    letter = _with_queue(target(redis_url, prefix, stream, ""), lambda q: q.get(entry_id))
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
    all_: bool = typer.Option(False, "--all", help="Redrive every dead letter (asks first)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask (for scripts)."),
    redis_url: RedisUrl = None,
    prefix: Prefix = None,
    stream: Stream = DEFAULT_STREAM,
    verify_keys: VerifyKeys = None,
) -> None:
    """Send dead letters back where they came from, if the consumers would accept them.

    Consumers that already handled a message skip it. A message that is not an envelope
    signed by its event type's owner, or whose origin is not that event type's stream,
    is refused and stays (docs/reliability.md).
    """
    if bool(entry_ids) == all_:
        console.print("[red]name the dead letters to redrive, or pass --all")
        raise typer.Exit(2)
    where = target(redis_url, prefix, stream, verify_keys)
    ids = list(entry_ids or [])
    if all_:
        ids = _confirm_all(where, yes)
    lines = _with_queue(where, lambda queue: _redrive(queue, ids, where.authenticity()))
    for line in lines:
        console.print(plain(line), highlight=False, markup=False)
    if any(line.startswith("refused") or line.startswith("no dead letter") for line in lines):
        raise typer.Exit(1)


@app.command()
def delete(
    entry_id: str,
    redis_url: RedisUrl = None,
    prefix: Prefix = None,
    stream: Stream = DEFAULT_STREAM,
) -> None:
    """Drop a dead letter for good."""
    deleted = _with_queue(target(redis_url, prefix, stream, ""), lambda q: q.delete(entry_id))
    console.print("deleted" if deleted else f"[red]no dead letter {entry_id}")


def _confirm_all(where: Target, yes: bool) -> list[str]:
    """Show what --all would redrive and what it would refuse; ask unless --yes."""
    letters = _with_queue(where, lambda q: q.list(10_000))
    authenticity = where.authenticity()
    problems = {letter.entry_id: redrive_problem(letter, authenticity) for letter in letters}
    fine = [letter.entry_id for letter in letters if problems[letter.entry_id] is None]
    for letter in letters:
        problem = problems[letter.entry_id]
        verdict = f"refused: {problem}" if problem else f"back to {letter.origin}"
        line = f"{letter.entry_id}  {letter.event_type or '(unreadable)'}  {verdict}"
        console.print(plain(line), highlight=False, markup=False, soft_wrap=True)
    console.print(f"{len(fine)} of {len(letters)} dead letter(s) can go back.")
    if not fine:
        raise typer.Exit(1 if letters else 0)
    if not yes:
        if not sys.stdin.isatty():
            console.print("[red]--all redrives without asking only with --yes (no terminal to ask)")
            raise typer.Exit(2)
        if not typer.confirm(f"Redrive these {len(fine)} dead letter(s)?"):
            raise typer.Exit(1)
    return fine


async def _redrive(queue: DeadLetterQueue, ids: list[str], authenticity: Authenticity) -> list[str]:
    lines = []
    for entry in ids:
        try:
            new_id = await queue.redrive(entry, authenticity)
        except KeyError:
            lines.append(f"no dead letter {entry}")
        except RedriveRefused as exc:
            lines.append(f"refused {entry}: {exc}")
        else:
            lines.append(f"redriven {entry} -> {new_id or 'published'}")
    if not authenticity.verifier.keys:
        lines.append(
            "(no verify keys: set EVENT_VERIFY_KEYS to the operator's, see docs/security.md)"
        )
    return lines


def _table(title: str, letters: list[DeadLetter]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("id", "failed at", "consumer", "origin", "event", "deliveries", "error"):
        table.add_column(column)
    for letter in letters:
        event = f"{letter.event_type} {letter.event_id}".strip() or "(unreadable)"
        row = [letter.entry_id, letter.failed_at, letter.consumer, letter.origin, event]
        row += [str(letter.deliveries), letter.error[:80]]
        table.add_row(*(Text(plain(cell)) for cell in row))  # Redis holds text, not markup
    return table
