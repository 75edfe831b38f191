"""sagabench: drive the saga like real customers; report throughput, latency and cost.

The public way in, besides the `sagabench` command (docs/benchmark.md):

    from sagabench import Plan, run_suite

    results = run_suite(Plan(transports=("streams",), levels=(1,), rates=(), replicas=(1,)))

Imported lazily, so `python -m sagabench.faults` or the OTLP receiver process load only
what they use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sagabench.plan import Plan
    from sagabench.suite import run_suite, suite

__all__ = ["Plan", "run_suite", "suite"]
_HOMES = {"Plan": "sagabench.plan", "run_suite": "sagabench.suite", "suite": "sagabench.suite"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'sagabench' has no attribute {name!r}")
