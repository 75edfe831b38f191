"""Schemathesis against every service's OpenAPI document: no 5xx, nothing undocumented.

For each operation of the five running services, Hypothesis generates requests that
follow the document (positive) and requests that break it (negative: wrong types,
patterns, lengths, missing or unknown fields ...), with a token of each role (customer,
manager, admin) signed by the stack's dev key. Every answer
must be below 500 and conform to the document: a declared status code, a body matching
the declared schema, the declared content type. Schemathesis' own checks also require
invalid requests to be refused with a 4xx and valid ones to be accepted.

The examples are bounded (about a minute for the five services) and the same every run:
each operation and role has its own fixed seed. `FUZZ_EXAMPLES=500` explores further; a
failure prints the curl command that reproduces it.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from schemathesis import APIOperation, Case, GenerationMode

from sagactl.auth import ADMIN, MANAGER, DevTokens
from sagactl.client import SERVICES
from sagakit.idempotency import HEADER
from sagakit.idempotency_api import KEY_PATTERN

ROLES = ("customer", "manager", "admin")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))  # per operation and role
LONGEST_WAIT = 0.05  # a generated long poll waits this long at most, not up to 30 s
# How an invalid request may be refused: schemathesis' list, plus the size limits (a
# generated list of query values can make the URL too long: 414).
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "414", "415", "422"]
REFUSALS += ["428", "429", "431", "5xx"]  # 5xx: reported as a server error instead
IDENTITIES = {"customer": "fuzz-customer", "manager": MANAGER, "admin": ADMIN}
# One document cannot say that a field is required for one role only: an admin books on
# behalf of a customer and must name it (docs/security.md), which `customer_id` (optional
# for a customer, who books for itself) does not show. That 422 is expected.
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
ROLE_EXCEPTIONS: dict[str, list[dict[str, Any]]] = {
    "admin": [
        {
            "include-path": "/bookings",
            "include-method": "POST",
            "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "422"]}},
        }
    ]
}

Tokens = Callable[[str], str]


@pytest.fixture
def role_token(dev_key: Path) -> Tokens:
    """The bearer token a caller with a role sends, signed by the stack's dev key."""
    tokens = DevTokens.from_file(dev_key)
    return lambda role: tokens.token(IDENTITIES[role])


def settings_for(role: str, token: str) -> schemathesis.Config:
    """Schemathesis' settings: the token as the documents' bearer scheme, so that the
    invalid requests it makes include ones without it; and the refusals it accepts."""
    return schemathesis.Config.from_dict(
        {
            "auth": {"openapi": {"bearer": {"bearer": token}}},
            "checks": {"negative_data_rejection": {"expected-statuses": REFUSALS}},
            "operations": ROLE_EXCEPTIONS.get(role, []),
        }
    )


@pytest.mark.parametrize("service", SERVICES)
async def test_no_generated_request_gets_a_5xx_or_an_undocumented_answer(
    service: str, fuzzed: Any, role_token: Tokens
) -> None:
    base_url = fuzzed.url(service)
    async with httpx.AsyncClient() as client:
        document = (await client.get(f"{base_url}/openapi.json")).json()
    # Hypothesis and schemathesis call synchronously: in a thread, so that this loop
    # keeps reading the services' output meanwhile.
    failures = await asyncio.to_thread(fuzz, document, base_url, role_token)
    assert failures == [], "\n\n".join(failures) + "\n" + fuzzed.log_tail()


def fuzz(document: dict[str, Any], base_url: str, role_token: Tokens) -> list[str]:
    """Every operation as every role; the failures found, each with how to reproduce it."""
    failures = []
    for role in ROLES:
        config = settings_for(role, role_token(role))
        schema = schemathesis.openapi.from_dict(document, config=config)
        for result in schema.get_all_operations():
            operation = result.ok()
            found = fuzz_operation(operation, base_url, role)
            failures += [f"{operation.label} as {role}: {failure}" for failure in found[:3]]
    return failures


def fuzz_operation(operation: APIOperation, base_url: str, caller: str) -> list[str]:
    """EXAMPLES generated calls of one operation, half valid, half not."""
    failures: list[str] = []
    strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
        GenerationMode.NEGATIVE
    )

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @seed(zlib.crc32(f"{operation.label} as {caller}".encode()))  # each its own examples
    @given(case=strategy)
    def call(case: Case) -> None:
        if isinstance(wait := (case.query or {}).get("wait"), int | float) and wait > 0:
            case.query["wait"] = min(wait, LONGEST_WAIT)
        key = (case.headers or {}).get(HEADER)
        if isinstance(key, str) and re.fullmatch(KEY_PATTERN, key):
            # Generated keys repeat ("0"); the same key with another body is a 422 by
            # design (docs/api.md). A valid key is one of its own; an invalid one stays.
            case.headers[HEADER] = str(uuid.uuid4())
        try:
            case.call_and_validate(base_url=base_url)
        except (Exception, BaseExceptionGroup) as failure:  # every check that failed
            failures.append(str(failure))

    call()
    return failures
