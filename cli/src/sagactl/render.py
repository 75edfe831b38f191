"""How the CLI prints what the services know."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from sagactl.terminal import markup, plain

Record = dict[str, Any] | None | str
# The statuses of a request that waits for a person: a payment, an approval.
WAITING = {"awaiting_payment", "pending"}


def describe(service: str, record: Record, *, deadline: bool = False) -> str:
    """One short line (rich markup) for what a service knows about a booking.

    With `deadline`, a payment or approval still waiting says when it expires (a line
    that changes every second: not for the demo, which prints each change).
    """
    if record is None:
        return "-"
    if isinstance(record, str):
        return markup(record)
    shown = {key: markup(value) for key, value in record.items()}
    if service == "booking":
        reason = f" ({shown['reason']})" if record.get("reason") else ""
        return f"{shown['status']}{reason}"
    if service == "manager":
        return f"approval {shown['status']}{_deadline(record, deadline)}"
    if service == "billing":
        return f"bill {shown['status']} {shown['amount']}"
    if service == "payment":
        due = f"payment {shown['status']}, due {shown['amount_due']}"
        return due + _deadline(record, deadline)
    if service == "invoice":
        return f"invoice {shown['number']} total {shown['total']}"
    return markup(record)


def status_table(booking_id: str, snapshot: dict[str, Record]) -> Table:
    """A table with one row per service."""
    table = Table(title=f"Saga of booking {booking_id}", title_justify="left")
    table.add_column("service", style="bold")
    table.add_column("knows")
    for service, record in snapshot.items():
        style = "dim" if record is None else ("red" if isinstance(record, str) else "")
        table.add_row(service, describe(service, record, deadline=True), style=style)
    return table


def expires_in(record: Record, now: datetime | None = None) -> str | None:
    """`expires in 14m 58s` for a request still waiting with a deadline (`expires_at`)."""
    if not isinstance(record, dict) or not record.get("expires_at"):
        return None
    if record.get("status") not in WAITING:
        return None
    left = datetime.fromisoformat(record["expires_at"]) - (now or datetime.now(UTC))
    seconds = int(left.total_seconds())
    if seconds <= 0:
        return "expires now (the next deadline sweep)"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h"] if hours else []
    parts += [f"{minutes}m"] if hours or minutes else []
    return "expires in " + " ".join([*parts, f"{secs}s"])


def _deadline(record: dict[str, Any], shown: bool) -> str:
    left = expires_in(record) if shown else None
    return f", {left}" if left else ""


def timeline_view(
    booking_id: str, timeline: Record, snapshot: dict[str, Record] | None = None
) -> RenderableType:
    """The saga step by step (from the booking service's journal), or why there is none.

    With the services' `snapshot`, a running saga also shows the deadline of what it waits
    for: the booking service does not know it, its owner (payment, manager) does.
    """
    if timeline is None:
        return Text(f"No timeline: the booking service knows no booking {booking_id}.", "dim")
    if isinstance(timeline, str):
        return Text(f"No timeline: booking service {plain(timeline)}", "red")
    table = Table(title=_timeline_title(timeline), title_justify="left")
    for column in ("#", "step", "producer", "at (UTC)"):
        table.add_column(column)
    table.add_column("+ms", justify="right")
    table.add_column("trace")
    for number, step in enumerate(timeline["steps"], start=1):
        table.add_row(
            str(number),
            markup(step["event_type"]),
            markup(step["producer"]),
            _clock(step["occurred_at"]),
            f"+{step['since_previous_ms']:.1f}",
            _short(step["trace_id"]),
        )
    notes = _timeline_notes(timeline, snapshot or {})
    return Group(table, *(Text(plain(note)) for note in notes))


def _timeline_title(timeline: dict[str, Any]) -> str:
    state = "finished" if timeline["finished"] else "running"
    steps, took = len(timeline["steps"]), timeline["duration_ms"]
    return f"Timeline: {markup(timeline['status'])}, {state}, {steps} steps in {took:.0f} ms"


def _timeline_notes(timeline: dict[str, Any], snapshot: dict[str, Record]) -> list[str]:
    notes = []
    expected = timeline.get("expected_next")
    if expected:
        events = " or ".join(expected["event_types"])
        notes.append(f"next: {events} from {expected['producer']} ({expected['note']})")
        left = expires_in(snapshot.get(expected["producer"]))
        if left and not timeline["finished"]:
            notes.append(f"deadline: {expected['producer']} {left}")
    notes.append(f"trace id: {timeline.get('trace_id') or '-'}")
    return notes


def _clock(moment: str) -> str:
    return datetime.fromisoformat(moment).astimezone(UTC).strftime("%H:%M:%S.%f")[:-3]


def _short(trace_id: str | None) -> str:
    return markup(trace_id[:8]) if trace_id else "-"
