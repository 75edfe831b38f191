"""`sagactl verify-observability`: which bookings it looks for, retries, the report, exit code."""

import json
import socket
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from sagactl.main import app
from sagactl.verify import command
from sagactl.verify.outcome import Outcome, until_passing


def test_the_demos_reserved_bookings_are_the_ones_looked_for(tmp_path: Path) -> None:
    ids = tmp_path / "demo.json"
    ids.write_text(json.dumps({"b-1": "reserved", "b-2": "failed"}))
    assert command.bookings_to_trace([], ids) == (["b-1"], f"no reserved booking in {ids}")
    assert command.bookings_to_trace(["b-9"], ids)[0] == ["b-9"]


def test_a_missing_ids_file_is_a_reason_not_a_crash(tmp_path: Path) -> None:
    bookings, why = command.bookings_to_trace([], tmp_path / "absent.json")
    assert bookings == [] and "did `sagactl demo --ids-file` run?" in why


async def test_a_group_is_retried_until_it_passes() -> None:
    answers = [False, False, True]

    async def attempt() -> list[Outcome]:
        return [Outcome("x", answers.pop(0), "")]

    assert (await until_passing(attempt, timeout=60, interval=0))[0].ok
    assert answers == []


async def test_a_group_still_failing_at_the_deadline_reports_its_last_outcome() -> None:
    calls = []

    async def attempt() -> list[Outcome]:
        calls.append(1)
        return [Outcome("x", False, f"attempt {len(calls)}")]

    [outcome] = await until_passing(attempt, timeout=0, interval=0)
    assert not outcome.ok and outcome.detail == f"attempt {len(calls)}"


def test_the_report_has_a_line_per_check_and_fails_on_any_failure() -> None:
    console = Console(record=True, width=200)
    ok = command.report(console, [Outcome("a", True, "fine"), Outcome("b [x]", False, "down")])
    text = console.export_text()
    assert not ok
    assert "PASS a: fine" in text and "FAIL b [x]: down" in text
    assert "observability: 1 of 2 checks passed" in text
    assert command.report(Console(record=True), [Outcome("a", True, "")])


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_command_exits_1_with_a_fail_line_per_unreachable_backend(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    args = ["verify-observability", "--booking-id", "b-1", "--timeout", "0"]
    args += ["--jaeger-url", url, "--prometheus-url", url, "--grafana-url", url]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "300"})
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("FAIL")]
    assert [line.split(":")[0] for line in lines] == [
        "FAIL jaeger",
        "FAIL prometheus",
        "FAIL grafana",
        "FAIL grafana",
        "FAIL grafana",
        "FAIL grafana",
    ]
    assert "observability: 0 of 6 checks passed" in result.output
