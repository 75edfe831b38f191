"""A fake of the five services that checks every token against the role table.

One HTTP server answers for all five (sagactl only needs base URLs). Each request's
bearer token is verified with the public half of the test's dev key, then judged by the
role table of docs/security.md; what was allowed is remembered with who asked. The
saga itself moves at once: a booking is approved and billed when created, and settled
(reserved or failed) when paid.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest

from sagactl.client import SERVICES
from sagakit import devauth

# (method, path pattern) -> roles allowed; "own" marks routes a customer may use for
# itself only. POST /bookings and POST /payments are judged in `_owner_rule`.
RULES: list[tuple[str, str, set[str], bool]] = [
    ("PUT", r"/customers/[^/]+/credit", {"admin"}, False),
    ("GET", r"/customers/[^/]+", {"customer", "manager", "admin"}, True),
    (
        "GET",
        r"/(bookings|bills|payments|invoices)/[^/]+(/timeline)?",
        {"customer", "manager", "admin"},
        True,
    ),
    ("GET", r"/approvals/[^/]+", {"manager", "admin"}, False),
    ("POST", r"/approvals/[^/]+/(approve|reject)", {"manager"}, False),
    ("POST", r"/bookings(/[^/]+)?/reconcile", {"admin"}, False),
    ("POST", r"/bookings", {"customer", "admin"}, True),
    ("POST", r"/payments", {"customer"}, True),
]


@dataclass
class Call:
    """One request the fake allowed: what, and who asked."""

    method: str
    path: str
    subject: str
    roles: tuple[str, ...]
    as_customer: bool = False


@dataclass
class Saga:
    """The state of the fake services."""

    key: Any
    auto_approve: bool = True
    credit: dict[str, Decimal] = field(default_factory=dict)
    bookings: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    refused: list[tuple[str, str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def who(self, method: str, path: str, header: str | None) -> tuple[int, Call | None]:
        """(status, call): 401 for a bad token, 403 for a role the table does not allow."""
        if not header or not header.startswith("Bearer "):
            return 401, None
        try:
            claims = jwt.decode(
                header.removeprefix("Bearer "),
                self.key.public_key(),
                algorithms=["ES256"],
                audience=devauth.DEFAULT_AUDIENCE,
                issuer=devauth.DEV_ISSUER,
            )
        except jwt.InvalidTokenError:
            return 401, None
        call = Call(method, path, claims["sub"], tuple(claims["roles"]))
        for rule_method, pattern, roles, own in RULES:
            if rule_method == method and re.fullmatch(pattern, path):
                allowed = roles & set(call.roles)
                call.as_customer = own and allowed == {"customer"}
                return (200 if allowed else 403), call
        return 404, call

    def owned(self, call: Call, path: str, body: dict[str, Any]) -> bool:
        """A customer may touch only its own customer id and bookings."""
        if not call.as_customer:
            return True
        if path == "/bookings":
            return body.get("customer_id", call.subject) == call.subject
        if path.startswith("/customers/"):
            return path.split("/")[2] == call.subject
        booking_id = body.get("booking_id") or path.split("/")[2]
        booking = self.bookings.get(booking_id)
        return booking is None or booking["customer_id"] == call.subject


def _views(saga: Saga, booking: dict[str, Any]) -> dict[str, dict[str, Any]]:
    status, amount, id_ = booking["status"], str(booking["amount"]), booking["id"]
    settled = {"reserved": "paid", "failed": "failed"}.get(status, "pending")
    views = {
        "bookings": {**booking, "amount": amount},
        "approvals": {"booking_id": id_, "status": booking["approval"]},
        "bills": {"booking_id": id_, "status": settled, "amount": amount},
        "payments": {
            "booking_id": id_,
            "status": booking["payment"],
            "amount_due": amount,
        },
    }
    if status == "reserved":
        views["invoices"] = {"booking_id": id_, "number": "INV-1", "total": amount}
    if booking["approval"] == "pending":
        del views["bills"], views["payments"]
    return views


def answer(saga: Saga, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    """What the five services would answer (the caller is already allowed)."""
    parts = path.strip("/").split("/")
    if method == "PUT":
        saga.credit[parts[1]] = Decimal(body["amount"])
        return 200, {"customer_id": parts[1], "credit": body["amount"]}
    if method == "POST" and path.endswith("/reconcile"):
        stuck = [b["id"] for b in saga.bookings.values() if b["status"] in ("pending", "approved")]
        asked = stuck if len(parts) == 2 else [parts[1]]
        return 202, {"booking_ids": asked, "channel": "saga.reconcile"}
    if method == "POST" and path == "/bookings":
        return 201, _create(saga, body)
    if method == "POST" and path == "/payments":
        booking = saga.bookings.get(body["booking_id"])
        if booking is None or booking["payment"] == "-":
            return 409, {"detail": "no bill for this booking yet"}
        return 200, _settle(saga, booking)
    if method == "POST":
        booking = saga.bookings[parts[1]]
        booking["approval"] = "approved" if parts[2] == "approve" else "rejected"
        booking["payment"] = "awaiting_payment" if parts[2] == "approve" else "-"
        booking["status"] = "approved" if parts[2] == "approve" else "rejected"
        return 200, {"booking_id": parts[1], "status": booking["approval"]}
    if parts[0] == "customers":
        return 200, {"customer_id": parts[1], "credit": str(saga.credit.get(parts[1], 0))}
    booking = saga.bookings.get(parts[1])
    view = _views(saga, booking).get(parts[0]) if booking and len(parts) == 2 else None
    return (200, view) if view else (404, {"detail": "not found"})


def _create(saga: Saga, body: dict[str, Any]) -> dict[str, Any]:
    booking_id = str(uuid.uuid4())
    approved = saga.auto_approve
    saga.bookings[booking_id] = {
        "id": booking_id,
        "customer_id": body["customer_id"],
        "item": body["item"],
        "amount": Decimal(body["amount"]),
        "status": "approved" if approved else "pending",
        "reason": None,
        "approval": "approved" if approved else "pending",
        "payment": "awaiting_payment" if approved else "-",
    }
    return {**saga.bookings[booking_id], "amount": body["amount"]}


def _settle(saga: Saga, booking: dict[str, Any]) -> dict[str, Any]:
    if booking["payment"] == "awaiting_payment":
        credit = saga.credit.get(booking["customer_id"], Decimal(0))
        paid = credit >= booking["amount"]
        booking["payment"] = "paid" if paid else "insufficient_funds"
        booking["status"] = "reserved" if paid else "failed"
        booking["reason"] = None if paid else "insufficient funds"
    return {"booking_id": booking["id"], "status": booking["payment"]}


def handler_for(saga: Saga) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def handle_any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else {}
            path = self.path.split("?")[0]
            with saga.lock:
                status, call = saga.who(self.command, path, self.headers.get("Authorization"))
                if status == 200 and call and not saga.owned(call, path, body):
                    status = 404 if self.command == "GET" else 403
                if status == 200 and call:
                    saga.calls.append(call)
                    status, reply = answer(saga, self.command, path, body)
                else:
                    saga.refused.append((self.command, path, status))
                    reply = {"detail": "refused"}
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = handle_any  # noqa: N815 (http.server's names)

    return Handler


@pytest.fixture
def dev_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A dev signing key, named by SAGA_DEV_KEY_FILE; no SAGA_TOKEN or SAGA_AS around."""
    path = devauth.ensure_key(tmp_path / "auth" / "dev-signing-key.pem")
    monkeypatch.setenv("SAGA_DEV_KEY_FILE", str(path))
    for name in ("SAGA_TOKEN", "SAGA_AS"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture
def services(dev_key: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Saga]:
    """The fake services, at SAGA_BOOKING_URL ... SAGA_INVOICE_URL."""
    saga = Saga(devauth.load_key(dev_key))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(saga))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    for name in SERVICES:
        monkeypatch.setenv(
            f"SAGA_{name.upper()}_URL", f"http://127.0.0.1:{server.server_address[1]}"
        )
    yield saga
    server.shutdown()
    server.server_close()
