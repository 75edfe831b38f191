"""Side by side (`python -m sagabench.compare`): two deployments driven at once."""

import json
import subprocess
import sys
from pathlib import Path

from sagabench.compare import table

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"booking", "manager", "billing", "payment", "invoice"}


def test_two_deployments_finish_every_saga_side_by_side(tmp_path: Path) -> None:
    # The base is this very checkout: the point is the harness, not a difference.
    command = [
        sys.executable, "-m", "sagabench.compare", str(ROOT),
        "--concurrency", "2", "--duration", "2", "--rounds", "2",
        "--output", str(tmp_path), "--label", "side",
        "--env", "LOG_LEVEL=INFO",  # so that the services write logs at all
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((tmp_path / "side.json").read_text())
    for name in ("this", "base"):
        side = result[name]
        assert side["sagas"] > 0 and side["wrong_or_unfinished"] == 0, side
        assert side["lost_or_duplicated_invoices"] == side["wrong_charges"] == 0, side
        assert set(side["per_service_cpu_ms_per_saga"]) == SERVICES
        assert side["services_cpu_ms_per_saga"] > 0 and side["commits_per_saga"] > 0
    assert "| base |" in table(result) and "| this |" in done.stdout
    assert len(list((tmp_path / "logs").glob("*-booking-0.log"))) == 2  # one per side
