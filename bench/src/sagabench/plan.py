"""What a benchmark run does: the `Plan` (defaults: the full `make bench`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[3] / "bench" / "results"
# off: no spans at all (OTEL_SDK_DISABLED=true), what the pattern alone costs.
# exported: every trace sampled and exported over OTLP/HTTP to a receiver process.
TRACING_MODES = ("off", "exported")


@dataclass(frozen=True)
class Plan:
    """What to run. Service logs go to <output>/logs, results to <output>/<label>.*"""

    transports: tuple[str, ...] = ("streams", "pubsub")
    levels: tuple[int, ...] = (1, 8, 32, 128)  # closed loop: sagas in flight
    # Open loop arrivals per second; below 1: shares of the best closed-loop throughput.
    rates: tuple[float, ...] = (0.25, 0.5, 0.9)
    replicas: tuple[int, ...] = (1, 2)
    scale_level: int = 32  # sagas in flight for the runs with more than one replica
    duration: float = 12.0  # seconds per run
    poor_share: float = 0.2  # customers who cannot pay (compensation)
    ceilings: bool = True  # pgbench, redis-benchmark and the client floor afterwards
    extra_env: dict[str, str] = field(default_factory=dict)  # service env
    profile_level: int = 0  # py-spy every service during this closed loop (0: none)
    output: Path = RESULTS
    label: str = "latest"
    tracing: tuple[str, ...] = ("off",)  # each transport runs once per mode

    def __post_init__(self) -> None:
        unknown = set(self.tracing) - set(TRACING_MODES)
        if unknown:
            raise ValueError(f"tracing modes are {TRACING_MODES}, not {sorted(unknown)}")

    @property
    def logs(self) -> Path:
        """Where the services' logs go."""
        return self.output / "logs"

    def quick(self) -> Plan:
        """The smoke run's shape: one closed loop of 4 for 3 s, no ceilings."""
        return replace(self, levels=(4,), rates=(), replicas=(1,), duration=3.0, ceilings=False)
