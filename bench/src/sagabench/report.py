"""Results: a JSON file, a Markdown table and a PNG chart (throughput against p99)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgres": _version(["postgres", "--version"], ["pg_config", "--version"]),
        "redis": _version(["redis-server", "--version"]),
    }


def _version(*commands: list[str]) -> str:
    for command in commands:
        try:
            return subprocess.run(
                command, capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            continue
    return "unknown"


def table(results: dict[str, Any]) -> str:
    """The runs as a Markdown table."""
    columns = [
        "transport",
        "tracing",
        "replicas",
        "load",
        "sagas/s",
        "saga p50 / p95 / p99 / max ms",
        "create->billed p99",
        "pay->final p99",
        "errors",
        "unfinished",
        "CPU ms/saga svc / pg / redis / load gen",
        "commits/saga",
        "spans/saga",
        "of ceiling",
    ]
    head = "| " + " | ".join(columns) + " |\n|" + " --- |" * len(columns)
    rows = [head]
    for run in results["runs"]:
        saga = run["latency_ms"]["saga"]
        cpu = run["cpu_ms_per_saga"]
        load = f"{run['mode']} {run['load']}"
        cells = [
            run["transport"],
            run.get("tracing", "off"),
            run["replicas"],
            load,
            run["sagas_per_second"],
            f"{saga['p50']} / {saga['p95']} / {saga['p99']} / {saga['max']}",
            run["latency_ms"]["create_to_billed"]["p99"],
            run["latency_ms"]["pay_to_final"]["p99"],
            run["errors"],
            run["unfinished"],
            " / ".join(
                _cell(cpu.get(key)) for key in ("services", "postgres", "redis", "load_generator")
            ),
            run["commits_per_saga"],
            run.get("spans_per_saga", "-"),
            run.get("of_ceiling", "-"),
        ]
        rows.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    return "\n".join(rows) + "\n"


def _cell(value: Any) -> str:
    return "n/a" if value is None else str(value)


def limits(results: dict[str, Any]) -> str:
    """How server CPU was measured, the servers' ceilings, the client stack's floor."""
    lines = []
    if source := results.get("server_cpu", {}).get("postgres"):
        measured = "Postgres CPU" if source.startswith("postmaster") else "Postgres CPU n/a"
        lines.append(f"- {measured}: {source}; Redis CPU: its own `INFO cpu`.")
    if any(run.get("tracing") == "exported" for run in results["runs"]):
        lines.append(
            "- tracing exported: every trace sampled and sent over OTLP/HTTP (protobuf) to a "
            "receiver process (`sagabench.otlp`); spans/saga counts what it received."
        )
    if ceilings := results.get("ceilings"):
        lines.append(
            f"- Ceilings on the same servers: pgbench {ceilings['pgbench_insert_tps']} "
            f"insert transactions/s, redis-benchmark {ceilings['redis_xadd_ops_per_second']} "
            "XADD/s."
        )
    if floors := results.get("floor_cpu_us"):
        costs = ", ".join(
            f"{name.removesuffix('_us')} {value} µs" for name, value in floors.items()
        )
        lines.append(f"- Client CPU per operation, measured alone: {costs}.")
    return "\n" + "\n".join(lines) + "\n" if lines else ""


def chart(results: dict[str, Any], path: Path) -> None:
    """Throughput against p99 saga latency, one line per transport and replica count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 5))
    series: dict[str, list[tuple[float, float, str]]] = {}
    for run in results["runs"]:
        p99 = run["latency_ms"]["saga"]["p99"]
        if p99 is None:
            continue
        traced = ", traced" if run.get("tracing") == "exported" else ""
        key = f"{run['transport']}{traced}, {run['replicas']} replica(s), {run['mode']} loop"
        series.setdefault(key, []).append((run["sagas_per_second"], p99, str(run["load"])))
    for key, points in sorted(series.items()):
        points.sort(key=lambda point: float(point[2]))  # along the load, as it was raised
        axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=key)
        for x, y, load in points:
            axes.annotate(load, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    axes.set_xlabel("completed sagas per second")
    axes.set_ylabel("p99 saga latency (ms, server side)")
    axes.set_yscale("log")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    cores = results["machine"]["cores"]
    axes.set_title(f"Booking saga on {cores} cores (labels: in-flight sagas or arrivals/s)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write(results: dict[str, Any], folder: Path, label: str) -> list[Path]:
    """Write <label>.json, <label>.md and <label>.png; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{label}.json", folder / f"{label}.md", folder / f"{label}.png"]
    paths[0].write_text(json.dumps(results, indent=2) + "\n")
    paths[1].write_text(table(results) + limits(results))
    chart(results, paths[2])
    return paths
