"""`helm test`: one saga through the cluster's Services, from credit to `reserved`.

Runs in the booking image with the standard library, plus sagakit.devauth (in the image)
to sign tokens with the chart's dev key (SAGA_DEV_KEY_FILE, auth.mode=dev): the admin
sets the credit, the customer books and pays and reads its own booking. With a token
of yours instead (SAGA_TOKEN, auth.mode=oidc; roles admin and customer) its `sub` is the
customer. Exits 0 when the booking is reserved, 1 (with the reason) when it fails, is
rejected, or the time runs out.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any, NoReturn

BOOKING = os.environ["SAGA_BOOKING_URL"].rstrip("/")
PAYMENT = os.environ["SAGA_PAYMENT_URL"].rstrip("/")
KEY_FILE = os.environ.get("SAGA_DEV_KEY_FILE", "")
TOKEN = os.environ.get("SAGA_TOKEN", "")
TIMEOUT = float(os.environ.get("SAGA_TEST_TIMEOUT", "120"))
INTERVAL = float(os.environ.get("SAGA_TEST_INTERVAL", "0.5"))
DEADLINE = time.monotonic() + TIMEOUT
SIGN: Callable[[str], str]  # identity -> bearer token (set by `signer()` at start)


def say(line: str) -> None:
    """One line of progress, out at once (the pod's log is all `helm test --logs` shows)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def fail(message: str) -> NoReturn:
    """Stop the test with a reason."""
    say(f"FAIL: {message}")
    sys.exit(1)


def signer() -> Callable[[str], str]:
    """identity -> bearer token: signed with the dev key, or your token for everyone."""
    if KEY_FILE:
        from pathlib import Path

        from sagakit.devauth import issue, load_key

        key = load_key(Path(KEY_FILE))
        made: dict[str, str] = {}

        def sign(identity: str) -> str:
            roles = ["admin"] if identity == "admin" else ["customer"]
            return made.setdefault(identity, issue(key, identity, roles, ttl_seconds=900))

        return sign
    if TOKEN:
        return lambda identity: TOKEN
    fail(
        "no token to call the services with: install with auth.mode=dev (the chart mounts "
        "its dev key here), or set test.tokenSecret to a Secret holding a token from your "
        "issuer with the roles admin and customer (key `token`)"
    )


def subject(token: str) -> str:
    """The `sub` of a token (not verified: the services do that), the test's customer id."""
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sub"])


def call(method: str, url: str, identity: str, body: Any = None) -> tuple[int, Any]:
    """(status, decoded JSON body) of a call as `identity`; 0 when the service is unreachable."""
    data = None if body is None else json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Authorization": f"Bearer {SIGN(identity)}",
    }
    # Only the two http(s) base URLs from the environment are ever opened (checked in main).
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, None
    except (OSError, ValueError) as error:  # refused, reset, timed out, not JSON
        return 0, str(error)


def until(what: str, attempt: Callable[[], Any]) -> Any:
    """Retry `attempt` until it returns something other than None, or fail at the deadline."""
    while time.monotonic() < DEADLINE:
        result = attempt()
        if result is not None:
            return result
        time.sleep(INTERVAL)
    fail(f"no {what} after {TIMEOUT:.0f}s")


def fatal(status: int, what: str) -> None:
    """A refused token will not be accepted later: stop at once, saying so."""
    if status in (401, 403):
        fail(f"{what}: {status}, the services refused the token (auth settings, roles)")


def set_credit(customer: str) -> bool | None:
    body = {"amount": "500.00"}
    status, _ = call("PUT", f"{PAYMENT}/customers/{customer}/credit", "admin", body)
    fatal(status, "credit")
    return True if status == 200 else None


def create_booking(customer: str) -> str | None:
    body = {"customer_id": customer, "item": "helm test", "amount": "120.00"}
    status, booking = call("POST", f"{BOOKING}/bookings", customer, body)
    fatal(status, "booking")
    return str(booking["id"]) if status == 201 else None


def bill_ready(booking_id: str, customer: str) -> bool | None:
    # 404 until payment has heard BILLED_BOOKING_EVENT.
    status, payment = call("GET", f"{PAYMENT}/payments/{booking_id}", customer)
    if status == 200 and payment["status"] == "awaiting_payment":
        return True
    return None


def pay(booking_id: str, customer: str) -> str | None:
    # 409 while the bill is not there yet; submitting twice never charges twice.
    body = {"booking_id": booking_id}
    status, payment = call("POST", f"{PAYMENT}/payments", customer, body)
    fatal(status, "payment")
    return str(payment["status"]) if status == 200 else None


def booking_final(booking_id: str, customer: str) -> dict[str, Any] | None:
    status, booking = call("GET", f"{BOOKING}/bookings/{booking_id}", customer)
    if status == 200 and booking["status"] in ("reserved", "failed", "rejected"):
        return dict(booking)
    return None


def main() -> None:
    for base in (BOOKING, PAYMENT):
        if not base.startswith(("http://", "https://")):
            fail(f"not an http(s) URL: {base}")
    customer = subject(TOKEN) if not KEY_FILE else f"helm-test-{uuid.uuid4().hex[:8]}"
    until("credit for the customer", lambda: set_credit(customer))
    say(f"payment: credit of {customer} set to 500.00")
    booking_id = until("booking created", lambda: create_booking(customer))
    say(f"booking: created {booking_id}")
    until("payment awaiting_payment", lambda: bill_ready(booking_id, customer))
    say("payment: awaiting_payment")
    paid = until("payment accepted", lambda: pay(booking_id, customer))
    if paid != "paid":
        fail(f"payment ended {paid}")
    say("payment: paid")
    booking = until("final booking state", lambda: booking_final(booking_id, customer))
    if booking["status"] != "reserved":
        fail(f"booking ended {booking['status']}: {booking.get('reason')}")
    say("booking: reserved, the saga completed in the cluster")


if __name__ == "__main__":
    SIGN = signer()
    main()
