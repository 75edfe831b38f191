"""The benchmark harness still works: a few seconds per transport, every saga must finish."""

import asyncio
import json
import os
import sys


async def test_quick_benchmark_finishes_every_saga(tmp_path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sagabench",
        "--quick",
        "--label",
        "smoke",
        "--output",
        str(tmp_path),
        env={**os.environ, "COLUMNS": "200"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 300)
    assert process.returncode == 0, output.decode()
    results = json.loads((tmp_path / "smoke.json").read_text())
    assert {run["transport"] for run in results["runs"]} == {"streams", "pubsub"}
    for run in results["runs"]:
        assert run["completed"] > 0
        assert run["completed"] == run["sagas"], run  # no errors, nothing unfinished
        assert run["lost_or_duplicated"] == 0, run["effects"]
    assert (tmp_path / "smoke.png").stat().st_size > 0
