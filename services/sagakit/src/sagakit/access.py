"""Who may call which route: the one table every service enforces and the tests are built from.

Each route ("METHOD /path template") lists the roles allowed to call it and how far
each role reaches: `ALL` any customer's data, `OWN` only the caller's own (a customer:
the token's subject is its customer id). A route missing from the table is refused:
`sagakit.authz.check_routes` stops an app from being built with one, and a request
that still reached it would get 403. docs/security.md, "Who may do what", shows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

CUSTOMER, MANAGER, ADMIN = "customer", "manager", "admin"
ROLES = (CUSTOMER, MANAGER, ADMIN)


class Scope(StrEnum):
    """How far a role reaches on a route."""

    ALL = "all"
    OWN = "own"


Rule = Mapping[str, Scope]  # role -> scope; roles not named are refused (403)

OWN_OR_STAFF: Rule = {CUSTOMER: Scope.OWN, MANAGER: Scope.ALL, ADMIN: Scope.ALL}
STAFF: Rule = {MANAGER: Scope.ALL, ADMIN: Scope.ALL}

RULES: Mapping[str, Mapping[str, Rule]] = {
    "booking": {
        # A customer books for itself; an admin on behalf of a customer named in the body.
        "POST /bookings": {CUSTOMER: Scope.OWN, ADMIN: Scope.ALL},
        "GET /bookings": OWN_OR_STAFF,
        "GET /bookings/{booking_id}": OWN_OR_STAFF,
        "GET /bookings/{booking_id}/timeline": OWN_OR_STAFF,
        # Operations: every service re-publishes its kept events (sagakit.reconcile).
        "POST /bookings/reconcile": {ADMIN: Scope.ALL},
        "POST /bookings/{booking_id}/reconcile": {ADMIN: Scope.ALL},
    },
    "manager": {
        "GET /approvals": STAFF,
        "GET /approvals/{booking_id}": STAFF,
        "POST /approvals/{booking_id}/approve": {MANAGER: Scope.ALL},
        "POST /approvals/{booking_id}/reject": {MANAGER: Scope.ALL},
    },
    "billing": {
        "GET /bills": OWN_OR_STAFF,
        "GET /bills/{booking_id}": OWN_OR_STAFF,
    },
    "payment": {
        "PUT /customers/{customer_id}/credit": {ADMIN: Scope.ALL},
        "GET /customers/{customer_id}": OWN_OR_STAFF,
        "POST /payments": {CUSTOMER: Scope.OWN},  # only the booking's own customer pays
        "GET /payments": OWN_OR_STAFF,
        "GET /payments/{booking_id}": OWN_OR_STAFF,
    },
    "invoice": {
        "GET /invoices": OWN_OR_STAFF,
        "GET /invoices/{booking_id}": OWN_OR_STAFF,
    },
}

# Open without a token: probes, metrics and the documents describing the API.
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/asyncapi", "/asyncapi.json"})


def scope_of(rule: Rule, roles: frozenset[str]) -> Scope | None:
    """The widest scope the roles get on a route, or None when none of them may call it."""
    scopes = {rule[role] for role in roles if role in rule}
    if Scope.ALL in scopes:
        return Scope.ALL
    return Scope.OWN if scopes else None


def matrix(service: str) -> list[tuple[str, str | None, bool]]:
    """Every (route, role, allowed) of a service; role None: no token at all."""
    return [
        (route, role, role is not None and role in rule)
        for route, rule in RULES[service].items()
        for role in (None, *ROLES)
    ]
