"""How the CLI prints what the services know."""

from __future__ import annotations

from typing import Any

from rich.table import Table

Record = dict[str, Any] | None | str


def describe(service: str, record: Record) -> str:
    """One short line for what a service knows about a booking."""
    if record is None:
        return "-"
    if isinstance(record, str):
        return record
    if service == "booking":
        reason = f" ({record['reason']})" if record.get("reason") else ""
        return f"{record['status']}{reason}"
    if service == "manager":
        return f"approval {record['status']}"
    if service == "billing":
        return f"bill {record['status']} {record['amount']}"
    if service == "payment":
        return f"payment {record['status']}, due {record['amount_due']}"
    if service == "invoice":
        return f"invoice {record['number']} total {record['total']}"
    return str(record)


def status_table(booking_id: str, snapshot: dict[str, Record]) -> Table:
    """A table with one row per service."""
    table = Table(title=f"Saga of booking {booking_id}", title_justify="left")
    table.add_column("service", style="bold")
    table.add_column("knows")
    for service, record in snapshot.items():
        style = "dim" if record is None else ("red" if isinstance(record, str) else "")
        table.add_row(service, describe(service, record), style=style)
    return table
