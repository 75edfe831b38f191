"""The fault suite's verdict: a row passes only when every invariant holds."""

import pytest

from sagabench.faults.report import table
from sagabench.faults.runner import failures

CLEAN = {
    "fault": "kill -9 of each service",
    "transport": "streams",
    "sagas_started": 12,
    "sagas_terminal": 12,
    "stuck": 0,
    "duplicate_effects": 0,
    "lost_effects": 0,
    "wrong_credit": 0,
    "5xx_other_than_503": 0,
    "proper_503": 3,
    "time_to_recover_s": 1.5,
    "unpaid_not_expired": 0,
    "client_errors": [],
    "notes": {"ready_after": True, "not_ready_while_down": {"payment": True}},
}


def test_a_clean_row_passes() -> None:
    assert failures(CLEAN) == []


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"stuck": 2, "sagas_terminal": 10}, "stuck = 2"),
        ({"duplicate_effects": 1}, "duplicate_effects = 1"),
        ({"lost_effects": 1}, "lost_effects = 1"),
        ({"wrong_credit": 1}, "wrong_credit = 1"),
        ({"5xx_other_than_503": 4}, "5xx_other_than_503 = 4"),
        ({"unpaid_not_expired": 1}, "1 unpaid sagas did not expire"),
        ({"client_errors": ["RuntimeError: 500"]}, "a customer gave up: RuntimeError: 500"),
        (
            {"notes": {"ready_after": True, "not_ready_while_down": {"payment": False}}},
            "/readyz never said 503 during the outage: payment",
        ),
        ({"notes": {"ready_after": False}}, "a service was not ready after the fault"),
    ],
)
def test_each_broken_invariant_fails_the_row(change: dict, says: str) -> None:
    assert says in failures(CLEAN | change)


def test_the_table_has_a_line_per_row_with_its_verdict() -> None:
    rows = [
        CLEAN | {"passed": True},
        CLEAN | {"fault": "clock", "passed": False, "failures": ["stuck = 2"]},
    ]
    results = {
        "rows": rows,
        "plan": {"sagas": 12, "rate": 3.0, "seed": 1},
        "seconds": 60,
        "machine": {"cores": 2},
        "generated_at": "now",
    }
    text = table(results)
    line = "| kill -9 of each service | streams | 12 | 12 | 0 | 0 | 0 | 0 | 0 | 3 | 1.5 | pass |"
    assert line in text
    assert "| clock | streams |" in text and "| FAIL: stuck = 2 |" in text
