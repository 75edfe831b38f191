"""Where a service's CPU goes, by library: a summary of py-spy's collapsed stacks.

A collapsed-stacks line is `frame;frame;...;frame count`, outermost frame first, each
frame `function (path/to/file.py:line)`. A sample counts for the library of its
deepest frame in a known package: time in `json` called by pydantic is pydantic's,
time in a socket call made by psycopg is psycopg's, the event loop's own wait is
asyncio's. Samples with no known frame are `other`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

# Top-level package -> the library it counts for, in the order the summary lists them.
LIBRARIES: dict[str, tuple[str, ...]] = {
    "psycopg": ("psycopg", "psycopg_pool", "psycopg_binary", "psycopg_c"),
    "sqlalchemy": ("sqlalchemy",),
    "asyncio/uvloop": ("asyncio", "uvloop", "selectors"),
    "faststream": ("faststream", "fast_depends"),
    "fastapi/starlette/uvicorn": ("fastapi", "starlette", "uvicorn", "httptools", "h11"),
    "opentelemetry": ("opentelemetry",),
    "pydantic": ("pydantic", "pydantic_core"),
    "redis": ("redis",),
    "sagakit": ("sagakit",),
}
OWN, OTHER = "own code", "other"
FRAME = re.compile(r"\((?P<path>[^()]*?)(?::\d+)?\)$")
# Installed and source paths are cut where the package path starts.
ROOTS = re.compile(r".*/(?:site-packages|dist-packages|src|lib/python3\.\d+)/")


def package_of(frame: str) -> str | None:
    """The top-level package (or stdlib module) a frame's file belongs to."""
    match = FRAME.search(frame.strip())
    if match is None:
        return None
    path = ROOTS.sub("", match.group("path"))
    head = path.split("/", 1)[0]
    return head.removesuffix(".py") or None


def library_of(stack: list[str], own: str) -> str:
    """The library of the deepest frame in a known package; `other` if none is."""
    known = {package: name for name, packages in LIBRARIES.items() for package in packages}
    known[own] = OWN
    for frame in reversed(stack):
        package = package_of(frame)
        if package in known:
            return known[package]
    return OTHER


def parse(lines: Iterable[str]) -> list[tuple[list[str], int]]:
    """(frames outermost first, sample count) per collapsed-stacks line."""
    stacks = []
    for line in lines:
        line = line.rstrip("\n")
        head, _, count = line.rpartition(" ")
        if head and count.isdigit():
            stacks.append((head.split(";"), int(count)))
    return stacks


def shares(lines: Iterable[str], own: str) -> dict[str, int]:
    """Samples per library, every library listed (0 when absent), own code and other last."""
    counts: Counter[str] = Counter()
    for stack, count in parse(lines):
        counts[library_of(stack, own)] += count
    return {name: counts[name] for name in [*LIBRARIES, OWN, OTHER]}


def table(services: dict[str, dict[str, int]]) -> str:
    """A Markdown table: one column per service, one row per library, % of its samples."""
    names = list(services)
    rows = ["| library | " + " | ".join(names) + " |", "| --- |" + " ---: |" * len(names)]
    libraries = [*LIBRARIES, OWN, OTHER]
    for library in libraries:
        cells = []
        for name in names:
            total = sum(services[name].values())
            cells.append(f"{services[name][library] / total:.1%}" if total else "-")
        label = "the service's own package" if library == OWN else library
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    totals = " | ".join(str(sum(services[name].values())) for name in names)
    rows.append(f"| samples | {totals} |")
    return "\n".join(rows) + "\n"


def summarise(folder: Path, name: str, services: Iterable[str]) -> Path:
    """Read <folder>/<name>-<service>.txt of every service; write <name>-summary.md."""
    found = {}
    for service in services:
        path = folder / f"{name}-{service}.txt"
        if path.exists():
            found[service] = shares(path.read_text().splitlines(), own=service)
    out = folder / f"{name}-summary.md"
    title = f"# {name}: share of py-spy samples per library\n\n"
    note = (
        "\nEach sample counts for the library of its deepest frame in a known package "
        "(`sagabench.stacks`); `other` is the standard library and everything else.\n"
    )
    out.write_text(title + (table(found) if found else "No stacks were recorded.\n") + note)
    return out
