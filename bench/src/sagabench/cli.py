"""`sagabench`: closed and open loop runs per transport and replica count, against the ceilings."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer

from sagabench import report
from sagabench.plan import RESULTS, Plan
from sagabench.suite import console, run_suite

app = typer.Typer(help="Benchmark the booking saga.", add_completion=False)


def _numbers(text: str) -> tuple[float, ...]:
    return tuple(float(part) for part in text.split(",") if part.strip())


@app.command()
def run(
    quick: bool = typer.Option(
        False, help="A few seconds: harness smoke test (one closed loop of 4, 3 s, 1 replica)."
    ),
    transports: str = typer.Option("streams,pubsub", help="Comma-separated."),
    levels: str = typer.Option("1,8,32,128", help="Closed loop: sagas in flight."),
    rates: str = typer.Option(
        "0.25,0.5,0.9",
        help="Open loop arrivals per second; values below 1 are shares of the best "
        "closed-loop throughput just measured on the same deployment.",
    ),
    replicas: str = typer.Option("1,2", help="Processes per service."),
    scale_level: int = typer.Option(32, help="Sagas in flight for the scale-out runs."),
    duration: float = typer.Option(12.0, help="Seconds per run."),
    poor_share: float = typer.Option(0.2, help="Share of customers without enough credit."),
    ceilings: bool | None = typer.Option(
        None,
        "--ceilings/--no-ceilings",
        help="Measure pgbench, redis-benchmark and the client floor after the runs "
        "(default: yes, no with --quick).",
    ),
    tracing: str = typer.Option(
        "off",
        help="off (no spans), exported (every trace sampled and sent over OTLP/HTTP to a "
        "receiver process), or off,exported for both side by side.",
    ),
    label: str = typer.Option("latest", help="Result files are <label>.json/.md/.png."),
    output: Path = typer.Option(RESULTS, help="Results folder; service logs go to <output>/logs."),
    env: list[str] = typer.Option([], help="Extra service env, NAME=VALUE (repeatable)."),
    profile_level: int = typer.Option(
        0,
        help="Record py-spy flame graphs, collapsed stacks and a per-library summary of "
        "every service during the closed-loop run with this many sagas in flight "
        "(0: none), under <output>/profiles/.",
    ),
) -> None:
    """Run the benchmark against fresh service processes and write the results."""
    plan = Plan(
        transports=tuple(transports.split(",")),
        levels=tuple(int(x) for x in _numbers(levels)),
        rates=_numbers(rates),
        replicas=tuple(int(x) for x in _numbers(replicas)),
        scale_level=scale_level,
        duration=duration,
        poor_share=poor_share,
        extra_env=dict(item.split("=", 1) for item in env),
        profile_level=profile_level,
        output=output,
        label=label,
        tracing=tuple(tracing.split(",")),
    )
    if quick:
        plan = plan.quick()
    if ceilings is not None:
        plan = replace(plan, ceilings=ceilings)
    results = run_suite(plan)
    for suffix in ("json", "md", "png"):
        console.print(f"wrote {output / f'{label}.{suffix}'}")
    console.print(report.table(results))
    bad = [r for r in results["runs"] if r["errors"] or r["unfinished"] or r["lost_or_duplicated"]]
    raise typer.Exit(1 if bad else 0)


def main() -> None:
    """Console script entry point."""
    app()
