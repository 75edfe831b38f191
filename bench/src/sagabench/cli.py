"""`sagabench`: closed and open loop runs per transport and replica count, against the ceilings."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sagabench import floor, measure, probes, report
from sagabench.cluster import Deployment, deploy, teardown
from sagabench.driver import Customers, SagaResult, closed_loop, open_loop
from sagactl.backends import Backends, resolve

app = typer.Typer(help="Benchmark the booking saga.", add_completion=False)
console = Console()
RESULTS = Path(__file__).resolve().parents[3] / "bench" / "results"


@dataclass(frozen=True)
class Plan:
    """What to run."""

    transports: tuple[str, ...]
    levels: tuple[int, ...]
    rates: tuple[float, ...]
    replicas: tuple[int, ...]
    scale_level: int
    duration: float
    poor_share: float
    ceilings: bool
    extra_env: dict[str, str]
    profile_level: int = 0
    output: Path = RESULTS
    label: str = "latest"


def _numbers(text: str) -> tuple[float, ...]:
    return tuple(float(part) for part in text.split(",") if part.strip())


@app.command()
def run(
    quick: bool = typer.Option(False, help="A few seconds: harness smoke test."),
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
    label: str = typer.Option("latest", help="Result files are <label>.json/.md/.png."),
    output: Path = typer.Option(RESULTS, help="Results folder."),
    env: list[str] = typer.Option([], help="Extra service env, NAME=VALUE (repeatable)."),
    profile_level: int = typer.Option(
        0,
        help="Record a py-spy flame graph of every service during the closed-loop run "
        "with this many sagas in flight (0: none), under <output>/profiles/.",
    ),
) -> None:
    """Run the benchmark against fresh service processes and write the results."""
    plan = Plan(
        transports=tuple(transports.split(",")),
        levels=tuple(int(x) for x in _numbers(levels)) if not quick else (4,),
        rates=_numbers(rates) if not quick else (),
        replicas=tuple(int(x) for x in _numbers(replicas)) if not quick else (1,),
        scale_level=scale_level,
        duration=duration if not quick else 3.0,
        poor_share=poor_share,
        ceilings=not quick,
        extra_env=dict(item.split("=", 1) for item in env),
        profile_level=profile_level,
        output=output,
        label=label,
    )
    backends = resolve(Path(".local").resolve())
    (RESULTS / "logs").mkdir(parents=True, exist_ok=True)
    try:
        results = asyncio.run(_suite(plan, backends))
    finally:
        backends.stop()
    for path in report.write(results, output, label):
        console.print(f"wrote {path}")
    console.print(report.table(results))
    bad = [r for r in results["runs"] if r["errors"] or r["unfinished"] or r["lost_or_duplicated"]]
    raise typer.Exit(1 if bad else 0)


async def _suite(plan: Plan, backends: Backends) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    for transport in plan.transports:
        for count in plan.replicas:
            runs += await _deployment_runs(backends, plan, transport, count)
    ceilings = _ceilings(backends.database_url, backends.redis_url) if plan.ceilings else {}
    _ratios(runs, ceilings)
    floors = await floor.measure(backends.database_url, backends.redis_url) if plan.ceilings else {}
    return {
        "generated_at": datetime.now(UTC).isoformat(),
        "machine": report.machine(),
        "plan": {
            key: str(value) if isinstance(value, Path) else value
            for key, value in plan.__dict__.items()
        },
        "ceilings": ceilings,
        "floor_cpu_us": floors,
        "runs": runs,
    }


async def _deployment_runs(
    backends: Any, plan: Plan, transport: str, count: int
) -> list[dict[str, Any]]:
    console.rule(f"{transport}, {count} replica(s) of every service")
    deployment = await deploy(backends, transport, count, RESULTS / "logs", plan.extra_env)
    customers = Customers(deployment.endpoints(), deployment.tokens(), plan.poor_share)
    runs: list[dict[str, Any]] = []
    try:
        # Warm up pools and caches; these sagas count in the effects check too.
        seen = await closed_loop(customers, 4, 2.0, lambda: None)

        async def measure(mode: str, load: float) -> None:
            run, results = await _measured(deployment, customers, plan, mode, load)
            seen.extend(results)
            run.update(_effects(deployment, seen))
            runs.append(run)

        for level in plan.levels if count == 1 else (plan.scale_level,):
            await measure("closed", float(level))
        best = max((run["sagas_per_second"] for run in runs), default=0.0)
        for rate in plan.rates if count == 1 else ():
            await measure("open", round(rate * best, 1) if rate < 1 else rate)
    finally:
        await customers.aclose()
        await teardown(deployment)
    return runs


async def _measured(
    deployment: Deployment, customers: Customers, plan: Plan, mode: str, load: float
) -> tuple[dict[str, Any], list[SagaResult]]:
    before = _snapshot(deployment)
    started = time.monotonic()
    profiling = []
    if mode == "closed" and load == plan.profile_level and len(deployment.stacks) == 1:
        folder = plan.output / "profiles"
        name = f"{plan.label}-{deployment.transport}-closed{int(load)}"
        profiling = probes.profile(deployment.pids(), plan.duration, folder, name)
    with Progress(
        TextColumn(f"{deployment.transport} {mode} {load:g}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        expected = int(load * plan.duration) if mode == "open" else None
        task = progress.add_task("sagas", total=expected)
        tick: Callable[[], None] = lambda: progress.advance(task)  # noqa: E731
        loop: Awaitable[list[SagaResult]] = (
            closed_loop(customers, int(load), plan.duration, tick)
            if mode == "closed"
            else open_loop(customers, load, plan.duration, tick)
        )
        results = await loop
    elapsed = time.monotonic() - started
    for recorder in profiling:
        recorder.wait(timeout=60)
    after = _snapshot(deployment)
    run = _summary(deployment, mode, load, results, elapsed, before, after)
    run["latency_ms"] = await measure.latencies(deployment, results)
    console.print(
        f"{deployment.transport} x{len(deployment.stacks)} {mode} {load:g}: "
        f"{run['sagas_per_second']} sagas/s, p99 {run['latency_ms']['saga']['p99']} ms, "
        f"errors {run['errors']}"
    )
    return run, results


def _snapshot(deployment: Deployment) -> dict[str, Any]:
    counters = probes.read_counters(
        deployment.backends.database_url, deployment.backends.redis_url, deployment.database_prefix
    )
    per_service = {
        name: sum(probes.cpu_seconds(pid) for pid in group)
        for name, group in deployment.pids().items()
    }
    return {
        "counters": counters,
        "services_cpu": sum(per_service.values()),
        "per_service_cpu": per_service,
        "driver_cpu": time.process_time(),  # this process: the simulated customers
    }


def _summary(
    deployment: Deployment,
    mode: str,
    load: float,
    results: list[SagaResult],
    elapsed: float,
    before: dict[str, Any],
    after: dict[str, Any],
) -> dict[str, Any]:
    ok = sum(1 for r in results if r.ok)
    done = max(ok, 1)
    b, a = before["counters"], after["counters"]
    pids = deployment.pids()
    return {
        "transport": deployment.transport,
        "replicas": len(deployment.stacks),
        "mode": mode,
        "load": int(load) if float(load).is_integer() else load,
        "seconds": round(elapsed, 2),
        "sagas": len(results),
        "completed": ok,
        "sagas_per_second": round(ok / elapsed, 1),
        "errors": sum(1 for r in results if r.error),
        "unfinished": sum(1 for r in results if r.final is None),
        "error_samples": sorted({r.error for r in results if r.error})[:3],
        "cpu_ms_per_saga": {
            "services": round((after["services_cpu"] - before["services_cpu"]) * 1000 / done, 2),
            "postgres": round((a.postgres_cpu - b.postgres_cpu) * 1000 / done, 2),
            "redis": round((a.redis_cpu - b.redis_cpu) * 1000 / done, 2),
            "load_generator": round((after["driver_cpu"] - before["driver_cpu"]) * 1000 / done, 2),
            **{
                name: round((after["per_service_cpu"][name] - cpu) * 1000 / done, 2)
                for name, cpu in before["per_service_cpu"].items()
            },
        },
        "commits_per_saga": round((a.commits - b.commits) / done, 2),
        "redis_commands_per_saga": round((a.redis_commands - b.redis_commands) / done, 1),
        "peak_rss_mb": {
            name: round(max(probes.peak_rss_mb(pid) for pid in group), 1)
            for name, group in pids.items()
        },
    }


def _effects(deployment: Deployment, seen: list[SagaResult]) -> dict[str, Any]:
    counts = measure.effects(deployment, seen)
    wrong = sum(v for k, v in counts.items() if k != "reserved")
    return {"effects": counts, "lost_or_duplicated": wrong}


def _ceilings(database_url: str, redis_url: str) -> dict[str, Any]:
    console.rule("ceilings: the same servers alone")
    tps = probes.pgbench_tps(database_url, clients=16)
    ops = probes.redis_ops_per_second(redis_url)
    return {"pgbench_insert_tps": round(tps, 1), "redis_xadd_ops_per_second": round(ops, 1)}


def _ratios(runs: list[dict[str, Any]], ceilings: dict[str, Any]) -> None:
    # Each run's own cost per saga turns the servers' raw rates into a ceiling for it.
    if not ceilings:
        return
    for run in runs:
        commit_bound = ceilings["pgbench_insert_tps"] / max(run["commits_per_saga"], 1)
        redis_bound = ceilings["redis_xadd_ops_per_second"] / max(run["redis_commands_per_saga"], 1)
        run["ceiling_sagas_per_second"] = round(min(commit_bound, redis_bound), 1)
        run["bound_by"] = "postgres commits" if commit_bound <= redis_bound else "redis commands"
        run["of_ceiling"] = f"{run['sagas_per_second'] / run['ceiling_sagas_per_second']:.1%}"


def main() -> None:
    """Console script entry point."""
    app()
