"""`sagabench.compare` without servers: where the base runs from, the table."""

from pathlib import Path

import pytest

from sagabench.compare import Comparison, table

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("booking", "manager", "billing", "payment", "invoice")


def test_the_base_runs_from_its_own_sources() -> None:
    env = Comparison(base=ROOT).base_env()
    paths = env["PYTHONPATH"].split(":")
    assert {Path(p).parent.name for p in paths} == {*SERVICES, "sagakit"}
    assert all(Path(p).is_relative_to(ROOT / "services") for p in paths)


def test_a_folder_that_is_no_checkout_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a checkout"):
        Comparison(base=tmp_path).base_env()


def side(sagas: int, cpu: float, commits: float, wrong: int = 0) -> dict[str, object]:
    return {
        "sagas": sagas,
        "services_cpu_ms_per_saga": cpu,
        "per_service_cpu_ms_per_saga": dict.fromkeys(SERVICES, cpu / 5),
        "commits_per_saga": commits,
        "wrong_or_unfinished": wrong,
        "lost_or_duplicated_invoices": 0,
        "lost_or_duplicated_bills": 0,
        "wrong_charges": 0,
        "unfinished_in_database": 0,
    }


def test_the_table_sets_this_code_against_the_base() -> None:
    rows = table({"this": side(110, 27.0, 12.0, wrong=1), "base": side(100, 30.0, 15.0)})
    lines = rows.splitlines()
    assert lines[0].startswith("|  | sagas | services' CPU ms/saga | booking |")
    assert lines[2].startswith("| this | 110 | 27.0 | 5.4 |") and lines[2].endswith("| 12.0 | 1 |")
    assert lines[3].startswith("| base | 100 | 30.0 |") and lines[3].endswith("| 0 |")
    assert (
        lines[4]
        == "| change | +10.0% | -10.0% | -10.0% | -10.0% | -10.0% | -10.0% | -10.0% | -20.0% |  |"
    )
