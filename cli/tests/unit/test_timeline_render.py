from datetime import UTC, datetime, timedelta

from rich.console import Console

from sagactl.render import describe, expires_in, timeline_view

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def step(event_type: str, producer: str, at: str, since: float) -> dict[str, object]:
    return {
        "event_type": event_type,
        "producer": producer,
        "occurred_at": f"2026-11-26T12:00:{at}Z",
        "since_previous_ms": since,
        "trace_id": TRACE,
    }


def running() -> dict[str, object]:
    return {
        "status": "approved",
        "finished": False,
        "trace_id": TRACE,
        "duration_ms": 2000.4,
        "steps": [
            step("CREATED_BOOKING_EVENT", "booking", "00.002", 2.0),
            step("APPROVED_BOOKING_EVENT", "manager", "00.010", 8.25),
            step("BILLED_BOOKING_EVENT", "billing", "00.015", 5.0),
        ],
        "expected_next": {
            "event_types": ["PAID_BOOKING_EVENT", "INSUFFICIENT_FUND_EVENT"],
            "producer": "payment",
            "note": "waiting for the customer's payment",
        },
    }


def printed(renderable: object) -> str:
    console = Console(record=True, width=160)
    console.print(renderable)
    return console.export_text()


def test_a_running_saga_shows_its_steps_what_comes_next_and_the_trace() -> None:
    text = printed(timeline_view("b-1", running()))
    assert "Timeline: approved, running, 3 steps in 2000 ms" in text
    for expected in ("CREATED_BOOKING_EVENT", "manager", "12:00:00.010", "+8.2", "4bf92f35"):
        assert expected in text
    assert "next: PAID_BOOKING_EVENT or INSUFFICIENT_FUND_EVENT from payment" in text
    assert f"trace id: {TRACE}" in text


def test_a_finished_saga_has_no_next_step() -> None:
    finished = {**running(), "status": "reserved", "finished": True, "expected_next": None}
    text = printed(timeline_view("b-1", finished))
    assert "reserved, finished" in text and "next:" not in text


def test_an_unknown_booking_or_an_unreachable_service_is_said_plainly() -> None:
    assert "knows no booking b-1" in printed(timeline_view("b-1", None))
    assert "unavailable: ConnectError" in printed(timeline_view("b-1", "unavailable: ConnectError"))


def test_a_waiting_payment_shows_how_long_until_it_expires() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    payment = {
        "status": "awaiting_payment",
        "expires_at": (now + timedelta(seconds=898)).isoformat(),
    }
    assert expires_in(payment, now) == "expires in 14m 58s"
    assert expires_in({**payment, "status": "paid"}, now) is None
    assert expires_in({**payment, "expires_at": None}, now) is None
    assert expires_in(payment, now + timedelta(hours=1)) == "expires now (the next deadline sweep)"
    approval = {
        "status": "pending",
        "expires_at": (now + timedelta(hours=23, seconds=5)).isoformat(),
    }
    assert expires_in(approval, now) == "expires in 23h 0m 5s"


def test_a_running_saga_shows_the_deadline_its_owner_reports() -> None:
    soon = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    payment = {"status": "awaiting_payment", "amount_due": "12.00", "expires_at": soon}
    text = printed(timeline_view("b-1", running(), {"payment": payment}))
    assert "deadline: payment expires in 9m" in text or "deadline: payment expires in 10m" in text
    assert "expires in" in describe("payment", payment, deadline=True)
    assert "expires" not in describe("payment", payment)  # the demo prints each change
    assert "deadline" not in printed(timeline_view("b-1", running()))
