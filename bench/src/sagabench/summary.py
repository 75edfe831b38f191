"""One measured run as numbers: counters read before and after it, turned into per-saga costs."""

from __future__ import annotations

import time
from typing import Any

from sagabench import measure, probes
from sagabench.cluster import Deployment
from sagabench.driver import SagaResult
from sagabench.otlp import Receiver
from sagabench.servercpu import ServerCpu


async def snapshot(
    deployment: Deployment, cpu: ServerCpu, receiver: Receiver | None
) -> dict[str, Any]:
    """Everything cumulative: commits, commands, CPU of every process, spans received."""
    spans = await receiver.settled() if receiver else None  # the last batches first
    counters = probes.read_counters(
        deployment.backends.database_url,
        deployment.backends.redis_url,
        deployment.database_prefix,
        cpu,
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
        "spans": spans,
        "receiver_cpu": probes.cpu_seconds(receiver.process.pid) if receiver else None,
    }


def _per_saga_ms(after: float | None, before: float | None, done: int) -> float | None:
    if after is None or before is None:
        return None
    return round((after - before) * 1000 / done, 2)


def summary(
    deployment: Deployment,
    tracing: str,
    mode: str,
    load: float,
    results: list[SagaResult],
    elapsed: float,
    before: dict[str, Any],
    after: dict[str, Any],
) -> dict[str, Any]:
    """The run's row: throughput, errors, CPU per saga by process, commits and commands."""
    ok = sum(1 for r in results if r.ok)
    done = max(ok, 1)
    b, a = before["counters"], after["counters"]
    pids = deployment.pids()
    run: dict[str, Any] = {
        "transport": deployment.transport,
        "tracing": tracing,
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
            "services": _per_saga_ms(after["services_cpu"], before["services_cpu"], done),
            "postgres": _per_saga_ms(a.postgres_cpu, b.postgres_cpu, done),
            "redis": _per_saga_ms(a.redis_cpu, b.redis_cpu, done),
            "load_generator": _per_saga_ms(after["driver_cpu"], before["driver_cpu"], done),
            **{
                name: _per_saga_ms(after["per_service_cpu"][name], cpu, done)
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
    if after["spans"] is not None:
        now, then = after["spans"], before["spans"]
        run["spans_per_saga"] = round((now["spans"] - then["spans"]) / done, 1)
        run["traces_per_saga"] = round((now["traces"] - then["traces"]) / done, 1)
        run["cpu_ms_per_saga"]["otlp_receiver"] = _per_saga_ms(
            after["receiver_cpu"], before["receiver_cpu"], done
        )
    return run


def effects(deployment: Deployment, seen: list[SagaResult]) -> dict[str, Any]:
    """Lost or duplicated effects of every saga so far on this deployment."""
    counts = measure.effects(deployment, seen)
    wrong = sum(v for k, v in counts.items() if k != "reserved")
    return {"effects": counts, "lost_or_duplicated": wrong}


def ratios(runs: list[dict[str, Any]], ceilings: dict[str, Any]) -> None:
    """Each run's own cost per saga turns the servers' raw rates into a ceiling for it."""
    if not ceilings:
        return
    for run in runs:
        commit_bound = ceilings["pgbench_insert_tps"] / max(run["commits_per_saga"], 1)
        redis_bound = ceilings["redis_xadd_ops_per_second"] / max(run["redis_commands_per_saga"], 1)
        run["ceiling_sagas_per_second"] = round(min(commit_bound, redis_bound), 1)
        run["bound_by"] = "postgres commits" if commit_bound <= redis_bound else "redis commands"
        run["of_ceiling"] = f"{run['sagas_per_second'] / run['ceiling_sagas_per_second']:.1%}"
