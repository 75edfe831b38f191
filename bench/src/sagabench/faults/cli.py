"""`python -m sagabench.faults` (`make test-faults`): every fault row, both transports, a table."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from sagabench.faults import report
from sagabench.faults.rig import down, up
from sagabench.faults.rows import ROWS, Row
from sagabench.faults.runner import run_row
from sagabench.report import machine

app = typer.Typer(help="The saga under faults: every row must end clean.", add_completion=False)
console = Console()
RESULTS = Path(__file__).resolve().parents[4] / "bench" / "results"


async def suite(
    transports: tuple[str, ...], rows: tuple[Row, ...], sagas: int, rate: float, seed: int
) -> dict[str, Any]:
    """Run `rows` in order on one rig per transport (the destructive rows come last).

    SIGINT or SIGTERM stops the run and everything it started.
    """
    loop, me = asyncio.get_running_loop(), asyncio.current_task()
    assert me is not None
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, me.cancel)
    began, done = time.monotonic(), []
    for transport in transports:
        rig = await up(transport)
        try:
            for index, row in enumerate(rows):
                console.print(f"[bold]{transport}[/]: {row.name} ...")
                result = await run_row(rig, row, sagas, rate, seed + index)
                console.print(f"  {report.verdict(result)}")
                done.append(result)
        finally:
            await down(rig, keep=any(result["passed"] is False for result in done))
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "plan": {"sagas": sagas, "rate": rate, "seed": seed, "transports": transports},
        "seconds": round(time.monotonic() - began),
        "rows": done,
    }


@app.command()
def run(
    transport: str = typer.Option("both", help="streams, pubsub or both."),
    sagas: int = typer.Option(180, help="Sagas per row."),
    rate: float = typer.Option(3.0, help="New sagas per second."),
    only: str = typer.Option("", help="Only the rows whose name contains this text."),
    seed: int = typer.Option(10, help="Random moments and customers are drawn from it."),
    label: str = typer.Option("faults", help="Result files are <label>.json/.md."),
    output: Path = typer.Option(RESULTS, help="Results folder."),
) -> None:
    """Run the fault rows against private servers and write the table."""
    transports = ("streams", "pubsub") if transport == "both" else (transport,)
    rows = tuple(row for row in ROWS if only.lower() in row.name.lower())
    results = asyncio.run(suite(transports, rows, sagas, rate, seed))
    for path in report.write(results, output, label):
        console.print(f"wrote {path}")
    console.print(report.table(results))
    failed = [row for row in results["rows"] if not row["passed"]]
    raise typer.Exit(1 if failed else 0)


def main() -> None:
    """Console entry point."""
    app()
