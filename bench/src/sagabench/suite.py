"""The suite: closed and open loops per transport, tracing mode and replica count, then the
servers' ceilings and the client stack's floor. `run_suite(Plan(...))` is the public way in.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sagabench import floor, measure, probes, report, stacks
from sagabench.cluster import Deployment, deploy, teardown
from sagabench.driver import Customers, SagaResult, closed_loop, open_loop
from sagabench.otlp import Receiver
from sagabench.plan import Plan
from sagabench.servercpu import ServerCpu
from sagabench.summary import effects, ratios, snapshot, summary
from sagactl.backends import Backends, resolve

console = Console()


def run_suite(plan: Plan, backends: Backends | None = None, write: bool = True) -> dict[str, Any]:
    """Run the plan against fresh service processes and return the results.

    Without `backends` it uses the local Postgres and Redis as `make up` does (private
    ones under .local/ if none answer, stopped afterwards). Service logs go to
    <output>/logs; with `write`, the results to <output>/<label>.{json,md,png}.
    Not from inside a running event loop: await `suite` there.
    """
    own = backends is None
    used = backends if backends is not None else resolve(Path(".local").resolve())
    try:
        results = asyncio.run(suite(plan, used))
    finally:
        if own:
            used.stop()
    if write:
        report.write(results, plan.output, plan.label)
    return results


async def suite(plan: Plan, backends: Backends) -> dict[str, Any]:
    """The runs of `plan` on `backends`; what `run_suite` returns (nothing written)."""
    plan.logs.mkdir(parents=True, exist_ok=True)
    cpu = ServerCpu(backends.database_url, backends.redis_url)
    if cpu.postmaster is None:
        console.print(f"[yellow]Postgres CPU not measured: {cpu.postgres_source}[/yellow]")
    runs: list[dict[str, Any]] = []
    for transport in plan.transports:
        for tracing in plan.tracing:
            for count in plan.replicas:
                runs += await _deployment_runs(backends, plan, transport, tracing, count, cpu)
    ceilings = _ceilings(backends.database_url, backends.redis_url) if plan.ceilings else {}
    ratios(runs, ceilings)
    floors = await floor.measure(backends.database_url, backends.redis_url) if plan.ceilings else {}
    return {
        "generated_at": datetime.now(UTC).isoformat(),
        "machine": report.machine(),
        "plan": {
            key: str(value) if isinstance(value, Path) else value
            for key, value in plan.__dict__.items()
        },
        "server_cpu": {"postgres": cpu.postgres_source, "redis": "INFO cpu of the server"},
        "ceilings": ceilings,
        "floor_cpu_us": floors,
        "runs": runs,
    }


async def _deployment_runs(
    backends: Backends, plan: Plan, transport: str, tracing: str, count: int, cpu: ServerCpu
) -> list[dict[str, Any]]:
    console.rule(f"{transport}, tracing {tracing}, {count} replica(s) of every service")
    receiver = Receiver() if tracing == "exported" else None
    env = {**plan.extra_env, **(receiver.env() if receiver else {})}
    runs: list[dict[str, Any]] = []
    try:
        deployment = await deploy(backends, transport, count, plan.logs, env)
        customers = Customers(deployment.endpoints(), deployment.tokens(), plan.poor_share)
        try:
            # Warm up pools and caches; these sagas count in the effects check too.
            seen = await closed_loop(customers, 4, 2.0, lambda: None)
            measured = _Measured(deployment, customers, plan, tracing, cpu, receiver)

            async def measure(mode: str, load: float) -> None:
                run, results = await measured.run(mode, load)
                seen.extend(results)
                run.update(effects(deployment, seen))
                runs.append(run)

            for level in plan.levels if count == 1 else (plan.scale_level,):
                await measure("closed", float(level))
            best = max((run["sagas_per_second"] for run in runs), default=0.0)
            for rate in plan.rates if count == 1 else ():
                await measure("open", round(rate * best, 1) if rate < 1 else rate)
        finally:
            await customers.aclose()
            await teardown(deployment)
    finally:
        if receiver:
            receiver.stop()
    return runs


class _Measured:
    """One deployment's measured runs: load, counters around it, latencies, profiles."""

    def __init__(
        self,
        deployment: Deployment,
        customers: Customers,
        plan: Plan,
        tracing: str,
        cpu: ServerCpu,
        receiver: Receiver | None,
    ) -> None:
        self.deployment, self.customers, self.plan = deployment, customers, plan
        self.tracing, self.cpu, self.receiver = tracing, cpu, receiver

    async def run(self, mode: str, load: float) -> tuple[dict[str, Any], list[SagaResult]]:
        deployment, plan = self.deployment, self.plan
        before = await snapshot(deployment, self.cpu, self.receiver)
        started = time.monotonic()
        profiling: list[Any] = []
        folder = plan.output / "profiles"
        name = f"{plan.label}-{deployment.transport}-closed{int(load)}"
        name += "-traced" if self.tracing == "exported" else ""
        if mode == "closed" and load == plan.profile_level and len(deployment.stacks) == 1:
            profiling = probes.profile(deployment.pids(), plan.duration, folder, name)
        results = await self._load(mode, load)
        elapsed = time.monotonic() - started
        for recorder in profiling:
            recorder.wait(timeout=60)
        if profiling:
            console.print(f"wrote {stacks.summarise(folder, name, deployment.pids())}")
        after = await snapshot(deployment, self.cpu, self.receiver)
        run = summary(deployment, self.tracing, mode, load, results, elapsed, before, after)
        run["latency_ms"] = await measure.latencies(deployment, results)
        if self.receiver:
            ids = [r.booking_id for r in results if r.ok and r.booking_id]
            run["traced_sagas"] = self.receiver.sagas(ids)
        console.print(
            f"{deployment.transport} x{len(deployment.stacks)} tracing {self.tracing} {mode} "
            f"{load:g}: {run['sagas_per_second']} sagas/s, "
            f"p99 {run['latency_ms']['saga']['p99']} ms, errors {run['errors']}"
        )
        return run, results

    async def _load(self, mode: str, load: float) -> list[SagaResult]:
        with Progress(
            TextColumn(f"{self.deployment.transport} {self.tracing} {mode} {load:g}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            duration = self.plan.duration
            expected = int(load * duration) if mode == "open" else None
            task = progress.add_task("sagas", total=expected)
            tick: Callable[[], None] = lambda: progress.advance(task)  # noqa: E731
            loop: Awaitable[list[SagaResult]] = (
                closed_loop(self.customers, int(load), duration, tick)
                if mode == "closed"
                else open_loop(self.customers, load, duration, tick)
            )
            return await loop


def _ceilings(database_url: str, redis_url: str) -> dict[str, Any]:
    console.rule("ceilings: the same servers alone")
    tps = probes.pgbench_tps(database_url, clients=16)
    ops = probes.redis_ops_per_second(redis_url)
    return {"pgbench_insert_tps": round(tps, 1), "redis_xadd_ops_per_second": round(ops, 1)}
