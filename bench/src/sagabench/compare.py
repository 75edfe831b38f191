"""Side by side: this code and another checkout deployed at once and driven at once.

On a shared machine two runs of the same code, one after the other, differ by up to 20%
(docs/benchmark.md). A change worth 3-5% shows only when the code before and after it run
at the same time against the same Postgres and Redis, so that whatever else the machine
does hits both alike. The other checkout runs from its own sources (its `services/*/src`
first on `PYTHONPATH`) with this checkout's libraries; each deployment has its own
databases, streams and keys.

Both deployments share the cores, so each runs at about half of its own peak: compare
within a run, not with `make bench`.

    python -m sagabench.compare ../before --transport pubsub --concurrency 16
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from sagabench.cluster import Deployment, deploy, teardown
from sagabench.driver import Customers, SagaResult, closed_loop
from sagabench.measure import effects
from sagabench.plan import RESULTS
from sagabench.servercpu import ServerCpu
from sagabench.suite import console
from sagabench.summary import snapshot
from sagactl.backends import Backends, resolve

SIDES = ("this", "base")


@dataclass(frozen=True)
class Comparison:
    """What to compare: `base` is a checkout of the other code (a `git worktree`)."""

    base: Path
    transport: str = "streams"
    concurrency: int = 8  # sagas in flight on each deployment
    duration: float = 15.0  # seconds per round
    rounds: int = 3
    poor_share: float = 0.2
    extra_env: dict[str, str] = field(default_factory=dict)  # service env of both
    logs: Path = Path("bench/results/logs")

    def base_env(self) -> dict[str, str]:
        """The service env that runs the base checkout's code."""
        sources = sorted((self.base / "services").glob("*/src"))
        if not sources:
            raise ValueError(f"{self.base} has no services/*/src: not a checkout of this project")
        return {"PYTHONPATH": os.pathsep.join(str(path.resolve()) for path in sources)}


@dataclass
class _Side:
    deployment: Deployment
    customers: Customers
    results: list[SagaResult] = field(default_factory=list)
    services_cpu: dict[str, float] = field(default_factory=dict)
    commits: int = 0
    sagas: int = 0  # ended as they should


async def compare(
    comparison: Comparison, backends: Backends, say: Callable[[str], None] = console.print
) -> dict[str, Any]:
    """Run the rounds; per side: sagas, services' CPU per saga (each service and all),
    commits per saga, and the lost or duplicated effects counted from its databases."""
    comparison.logs.mkdir(parents=True, exist_ok=True)
    envs = {"this": comparison.extra_env, "base": {**comparison.extra_env, **comparison.base_env()}}
    sides: dict[str, _Side] = {}
    try:
        for name in SIDES:
            deployment = await deploy(
                backends, comparison.transport, 1, comparison.logs, envs[name]
            )
            customers = Customers(
                deployment.endpoints(), deployment.tokens(), comparison.poor_share
            )
            sides[name] = _Side(deployment, customers)
        # Warm up pools and caches; these sagas count in the effects check too.
        warm = await asyncio.gather(
            *(closed_loop(side.customers, 4, 2.0, _nothing) for side in sides.values())
        )
        for side, results in zip(sides.values(), warm, strict=True):
            side.results += results
        cpu = ServerCpu(backends.database_url, backends.redis_url)
        for round_ in range(1, comparison.rounds + 1):
            before = {
                name: await snapshot(side.deployment, cpu, None) for name, side in sides.items()
            }
            finished = await asyncio.gather(
                *(
                    closed_loop(
                        side.customers, comparison.concurrency, comparison.duration, _nothing
                    )
                    for side in sides.values()
                )
            )
            for (name, side), results in zip(sides.items(), finished, strict=True):
                after = await snapshot(side.deployment, cpu, None)
                side.results += results
                side.sagas += sum(1 for result in results if result.ok)
                side.commits += after["counters"].commits - before[name]["counters"].commits
                for service, seconds in after["per_service_cpu"].items():
                    spent = seconds - before[name]["per_service_cpu"][service]
                    side.services_cpu[service] = side.services_cpu.get(service, 0.0) + spent
            say(
                f"round {round_}: "
                + ", ".join(f"{n} {len(r)} sagas" for n, r in zip(sides, finished, strict=True))
            )
        return {
            "transport": comparison.transport,
            "concurrency": comparison.concurrency,
            "rounds": comparison.rounds,
            "duration": comparison.duration,
            "base": str(comparison.base),
            **{name: _report(side) for name, side in sides.items()},
        }
    finally:
        for side in sides.values():
            await side.customers.aclose()
            await teardown(side.deployment)


def _nothing() -> None:
    return None


def _report(side: _Side) -> dict[str, Any]:
    done = max(side.sagas, 1)
    per_service = {name: round(s * 1000 / done, 2) for name, s in side.services_cpu.items()}
    return {
        "sagas": side.sagas,
        "services_cpu_ms_per_saga": round(sum(side.services_cpu.values()) * 1000 / done, 2),
        "per_service_cpu_ms_per_saga": per_service,
        "commits_per_saga": round(side.commits / done, 2),
        "wrong_or_unfinished": sum(1 for result in side.results if not result.ok),
        **effects(side.deployment, side.results),
    }


def table(result: dict[str, Any]) -> str:
    """The comparison as a Markdown table, this code against the base."""
    services = list(result["this"]["per_service_cpu_ms_per_saga"])
    head = ["", "sagas", "services' CPU ms/saga", *services, "commits/saga", "wrong or lost"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name in SIDES:
        side = result[name]
        lost = sum(
            side[key]
            for key in (
                "wrong_or_unfinished",
                "lost_or_duplicated_invoices",
                "lost_or_duplicated_bills",
                "wrong_charges",
                "unfinished_in_database",
            )
        )
        cells = [
            name,
            str(side["sagas"]),
            str(side["services_cpu_ms_per_saga"]),
            *(str(side["per_service_cpu_ms_per_saga"][s]) for s in services),
            str(side["commits_per_saga"]),
            str(lost),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    this, base = result["this"], result["base"]
    change = [
        "change",
        _change(this["sagas"], base["sagas"]),
        _change(this["services_cpu_ms_per_saga"], base["services_cpu_ms_per_saga"]),
        *(
            _change(this["per_service_cpu_ms_per_saga"][s], base["per_service_cpu_ms_per_saga"][s])
            for s in services
        ),
        _change(this["commits_per_saga"], base["commits_per_saga"]),
        "",
    ]
    lines.append("| " + " | ".join(change) + " |")
    return "\n".join(lines)


def _change(this: float, base: float) -> str:
    """This side against the base, in percent of the base."""
    return f"{(this - base) * 100 / base:+.1f}%" if base else "n/a"


app = typer.Typer(help=__doc__, add_completion=False)


@app.command()
def main(
    base: Path = typer.Argument(..., help="A checkout of the code to compare with."),
    transport: str = typer.Option("streams", help="streams or pubsub."),
    concurrency: int = typer.Option(8, help="Sagas in flight on each deployment."),
    duration: float = typer.Option(15.0, help="Seconds per round."),
    rounds: int = typer.Option(3, help="Rounds, added up."),
    env: list[str] = typer.Option([], help="Extra service env of both, NAME=VALUE."),
    output: Path = typer.Option(
        RESULTS, help="Writes <output>/<label>.json; logs in <output>/logs."
    ),
    label: str = typer.Option("compare", help="Result file name."),
) -> None:
    """Deploy this code and BASE at once, drive both with the same closed loop at once."""
    comparison = Comparison(
        base=base,
        transport=transport,
        concurrency=concurrency,
        duration=duration,
        rounds=rounds,
        extra_env=dict(item.split("=", 1) for item in env),
        logs=output / "logs",
    )
    backends = resolve(Path(".local").resolve())
    try:
        result = asyncio.run(compare(comparison, backends))
    finally:
        backends.stop()
    (output / f"{label}.json").write_text(json.dumps(result, indent=2) + "\n")
    console.print(table(result))


if __name__ == "__main__":
    app()
