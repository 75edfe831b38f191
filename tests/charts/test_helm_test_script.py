"""The `helm test` script (charts/saga/files/saga_test.py) against a fake booking and payment.

The fake answers like the real services do while a saga is under way (404 before the
bill exists, 409 on a payment submitted too early, `pending` before `reserved`), so the
script's retries, its verdicts and its timeout are exercised without a cluster. It
verifies every token with the public half of the test's dev key and remembers who made
each call, so the roles the script uses are checked too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from chartkit import SAGA

from sagakit import devauth

SCRIPT = SAGA / "files" / "saga_test.py"
BOOKING_ID = "6f1c1d9e-8c1b-4a53-9d3e-2f4b6a7c8d90"


@dataclass
class Saga:
    """What the fake services answer; `outcome` is the booking's final state."""

    outcome: str = "reserved"
    early_payment_lookups: int = 2  # 404s before the payment request exists
    early_submissions: int = 1  # 409s before the bill exists
    polls_before_final: int = 2
    calls: list[str] = field(default_factory=list)
    callers: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    key: Any = None
    refuse: bool = False  # answer 401, as services that do not trust the token would


def handler_for(saga: Saga) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def answer(self, status: int, body: Any = None) -> None:
            data = json.dumps(body or {}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def body(self) -> Any:
            return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

        def trusted(self) -> bool:
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            claims = jwt.decode(token, options={"verify_signature": False})
            if saga.key is not None:
                claims = jwt.decode(
                    token, saga.key.public_key(), algorithms=["ES256"], audience="saga"
                )
            where = f"{self.command} {self.path.split('/')[1]}"
            saga.callers.append((where, claims["sub"], tuple(claims["roles"])))
            if saga.refuse:
                self.answer(401, {"detail": "invalid token"})
            return not saga.refuse

        def do_PUT(self) -> None:
            saga.calls.append(f"PUT {self.path}")
            if not self.trusted():
                return
            assert self.body() == {"amount": "500.00"}
            self.answer(200, {"credit": "500.00"})

        def do_POST(self) -> None:
            saga.calls.append(f"POST {self.path}")
            if not self.trusted():
                return
            body = self.body()
            if self.path == "/bookings":
                assert set(body) == {"customer_id", "item", "amount"}
                self.answer(201, {"id": BOOKING_ID, "status": "pending"})
            elif saga.early_submissions > 0:
                saga.early_submissions -= 1
                self.answer(409, {"detail": "no bill yet"})
            else:
                paid = "insufficient_funds" if saga.outcome == "failed" else "paid"
                self.answer(200, {"booking_id": body["booking_id"], "status": paid})

        def do_GET(self) -> None:
            saga.calls.append(f"GET {self.path}")
            if not self.trusted():
                return
            if self.path.startswith("/payments/"):
                if saga.early_payment_lookups > 0:
                    saga.early_payment_lookups -= 1
                    self.answer(404, {"detail": "not found"})
                else:
                    self.answer(200, {"status": "awaiting_payment"})
            elif saga.polls_before_final > 0 or saga.outcome == "never":
                saga.polls_before_final -= 1
                self.answer(200, {"id": BOOKING_ID, "status": "pending", "reason": None})
            else:
                reason = None if saga.outcome == "reserved" else "insufficient funds"
                self.answer(200, {"id": BOOKING_ID, "status": saga.outcome, "reason": reason})

    return Handler


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return devauth.ensure_key(tmp_path / "dev-signing-key.pem")


@pytest.fixture
def fake(key_file: Path) -> Iterator[tuple[Saga, str]]:
    saga = Saga(key=devauth.load_key(key_file))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(saga))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield saga, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run_script(url: str, timeout: float, **auth: str | Path) -> subprocess.CompletedProcess[str]:
    env = {
        "SAGA_BOOKING_URL": url,
        "SAGA_PAYMENT_URL": url,
        "SAGA_TEST_TIMEOUT": str(timeout),
        "SAGA_TEST_INTERVAL": "0.05",
        **{name.upper(): str(value) for name, value in auth.items()},
    }
    return subprocess.run(
        [sys.executable, "-I", str(SCRIPT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout + 20,
        check=False,
    )


def test_a_reserved_booking_passes_after_the_usual_retries(
    fake: tuple[Saga, str], key_file: Path
) -> None:
    saga, url = fake
    result = run_script(url, timeout=20, saga_dev_key_file=key_file)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "booking: reserved" in result.stdout
    submissions = [call for call in saga.calls if call == "POST /payments"]
    assert len(submissions) == 2  # one 409 (no bill yet), then paid
    assert saga.calls[0].startswith("PUT /customers/helm-test-")
    customer = saga.calls[0].split("/")[2]
    assert saga.callers[0] == ("PUT customers", "admin", ("admin",))
    assert set(saga.callers[1:]) == {
        (where, customer, ("customer",))
        for where in ("POST bookings", "GET payments", "POST payments", "GET bookings")
    }


def test_a_failed_booking_fails_the_test(fake: tuple[Saga, str], key_file: Path) -> None:
    saga, url = fake
    saga.outcome = "failed"
    result = run_script(url, timeout=20, saga_dev_key_file=key_file)
    assert result.returncode == 1
    assert "FAIL: payment ended insufficient_funds" in result.stdout


def test_a_saga_that_never_ends_fails_at_the_deadline(
    fake: tuple[Saga, str], key_file: Path
) -> None:
    saga, url = fake
    saga.outcome = "never"
    result = run_script(url, timeout=1, saga_dev_key_file=key_file)
    assert result.returncode == 1
    assert "FAIL: no final booking state after 1s" in result.stdout


def test_unreachable_services_fail_at_the_deadline(key_file: Path) -> None:
    result = run_script("http://127.0.0.1:9", timeout=1, saga_dev_key_file=key_file)
    assert result.returncode == 1
    assert "FAIL: no credit for the customer after 1s" in result.stdout


def test_a_token_of_yours_is_used_for_every_call_and_its_subject_is_the_customer(
    fake: tuple[Saga, str], key_file: Path
) -> None:
    saga, url = fake
    token = devauth.issue(devauth.load_key(key_file), "ci-robot", ["admin", "customer"])
    result = run_script(url, timeout=20, saga_token=token)
    assert result.returncode == 0, result.stdout + result.stderr
    assert saga.calls[0] == "PUT /customers/ci-robot/credit"
    assert {(sub, roles) for _, sub, roles in saga.callers} == {("ci-robot", ("admin", "customer"))}


def test_without_key_or_token_it_fails_at_once_saying_what_to_set(
    fake: tuple[Saga, str],
) -> None:
    saga, url = fake
    result = run_script(url, timeout=20)
    assert result.returncode == 1
    assert "FAIL: no token to call the services with" in result.stdout
    assert "auth.mode=dev" in result.stdout and "test.tokenSecret" in result.stdout
    assert saga.calls == []


def test_a_refused_token_fails_at_once(fake: tuple[Saga, str], key_file: Path) -> None:
    saga, url = fake
    saga.refuse = True
    result = run_script(url, timeout=20, saga_dev_key_file=key_file)
    assert result.returncode == 1
    assert "FAIL: credit: 401, the services refused the token" in result.stdout
    assert len(saga.calls) == 1


def test_the_test_pod_runs_this_script(rendered: dict[str, Any]) -> None:
    render = rendered["default"]
    script = render.get("ConfigMap", "saga-test")["data"]["saga_test.py"]
    assert script == SCRIPT.read_text()
    pod = render.get("Pod", "saga-test")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (container,) = pod["spec"]["containers"]
    assert container["command"] == ["python3", "/scripts/saga_test.py"]
    env = {var["name"]: var["value"] for var in container["env"]}
    assert env["SAGA_BOOKING_URL"] == "http://saga-booking"
    assert env["SAGA_PAYMENT_URL"] == "http://saga-payment"
