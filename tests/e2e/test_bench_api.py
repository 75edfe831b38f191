"""The harness from Python: `sagabench.run_suite(Plan(...))`, tracing off and exported."""

from pathlib import Path

from sagabench import Plan, run_suite
from sagactl.backends import Backends
from sagakit.testing import POSTGRES_URL, REDIS_URL

SERVICES = {"booking", "manager", "billing", "payment", "invoice"}


def tiny(tmp_path: Path, **changes: object) -> Plan:
    """One transport, one saga in flight for 2 s, no ceilings, everything under tmp_path."""
    plan = Plan(
        transports=("streams",),
        levels=(1,),
        rates=(),
        replicas=(1,),
        duration=2.0,
        ceilings=False,
        output=tmp_path,
        label="tiny",
        extra_env={"LOG_LEVEL": "INFO"},  # so that the services write logs at all
    )
    return Plan(**{**plan.__dict__, **changes})


def test_the_public_api_runs_a_chosen_plan_and_keeps_logs_with_the_results(
    tmp_path: Path,
) -> None:
    results = run_suite(tiny(tmp_path), Backends(POSTGRES_URL, REDIS_URL))

    assert results["ceilings"] == {} and results["floor_cpu_us"] == {}
    assert results["plan"]["levels"] == (1,) and results["plan"]["output"] == str(tmp_path)
    assert results["server_cpu"]["postgres"].startswith("postmaster pid")
    [run] = results["runs"]
    assert (run["transport"], run["tracing"], run["mode"], run["load"]) == (
        "streams", "off", "closed", 1,
    )  # fmt: skip
    assert run["completed"] == run["sagas"] > 0 and run["lost_or_duplicated"] == 0
    assert run["cpu_ms_per_saga"]["postgres"] >= 0 and run["cpu_ms_per_saga"]["redis"] >= 0
    assert set(run["latency_ms"]) == {"create_to_billed", "pay_to_final", "saga"}
    assert "spans_per_saga" not in run
    assert {path.name for path in tmp_path.glob("tiny.*")} == {"tiny.json", "tiny.md", "tiny.png"}
    logs = {path.name.split("-", 1)[1] for path in (tmp_path / "logs").glob("*.log")}
    assert logs == {f"{service}-0.log" for service in SERVICES}


def test_tracing_exported_reaches_the_receiver_one_trace_per_saga(tmp_path: Path) -> None:
    results = run_suite(tiny(tmp_path, tracing=("exported",)), Backends(POSTGRES_URL, REDIS_URL))

    [run] = results["runs"]
    assert run["tracing"] == "exported"
    assert run["completed"] == run["sagas"] > 0
    assert run["spans_per_saga"] > 10
    assert run["cpu_ms_per_saga"]["otlp_receiver"] >= 0
    traced = run["traced_sagas"]
    assert set(traced["services"]) == SERVICES  # spans from all five services
    # Every saga's message hops (producer and consumer spans) are in one trace.
    assert traced["sagas"] == run["completed"]
    assert traced["in_one_trace"] == traced["sagas"]
    assert "| streams | exported |" in (tmp_path / "tiny.md").read_text()
