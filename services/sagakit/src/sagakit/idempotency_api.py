"""The `Idempotency-Key` request header on the routes that run a command (POST).

A route asks for `IdempotencyDep` and binds the unit of work with its `claim(...)`:

    uow.claiming(idempotency.claim(Booking, BookingPublic.of, status=201))

Without the header the claim is None and the route works as without this module. With
it, the key is stored in the transaction of the state change (sagakit.idempotency);
a retry with the same key and request gets the first answer again, marked with
`Idempotent-Replayed: true`, and the same key with another request is a 422 naming the
header. docs/api.md, "Idempotency-Key", is the client's guide.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from sagakit.authz import AccessDep
from sagakit.guards import AsciiJSONResponse
from sagakit.idempotency import HEADER, REPLAYED_HEADER, Claim, KeyReused, Replayed

A = TypeVar("A")

MAX_KEY_LENGTH = 255
# Printable ASCII, 1 to 255 characters, not starting or ending with a space (HTTP strips
# those); also as a quoted Structured Field string ("...").
KEY_PATTERN = r'^(?:[!-~](?:[ -~]{0,253}[!-~])?|"[ -~]{1,255}")$'

KeyHeader = Annotated[
    str | None,
    Header(
        alias=HEADER,
        pattern=KEY_PATTERN,
        max_length=MAX_KEY_LENGTH + 2,
        description="A unique value per command (a UUID): a retry with the same key and "
        "body answers what the first request answered, without doing it again. Printable "
        "ASCII, 1 to 255 characters. Kept for IDEMPOTENCY_RETENTION_HOURS.",
        examples=["8e03978e-40d5-43e8-bc93-6894a57f9324"],
    ),
]


@dataclass(frozen=True)
class Idempotency:
    """The request's key (None: sent without), its scope and its fingerprint."""

    key: str | None
    scope: str
    fingerprint: str

    def claim(
        self,
        kind: type[A],
        public: Callable[[A], BaseModel],
        status: int = 200,
        headers: Callable[[A], Mapping[str, str]] | None = None,
    ) -> Claim | None:
        """What the unit of work stores: the body `public` makes of the `kind` aggregate."""
        if self.key is None:
            return None

        def render(aggregate: Any) -> Any:
            return public(aggregate).model_dump(mode="json")

        return Claim(self.scope, self.key, self.fingerprint, kind, render, status, headers)


async def idempotency(request: Request, access: AccessDep, key: KeyHeader = None) -> Idempotency:
    """Read the key; its scope is route and caller, its fingerprint path and body."""
    if key is None:
        return Idempotency(None, "", "")
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    route = getattr(request.scope.get("route"), "path", "")
    scope = f"{request.method} {route} {access.principal.subject}"
    request_text = request.url.path + "\n" + _canonical(await request.body())
    fingerprint = hashlib.sha256(request_text.encode("utf-8", "surrogatepass")).hexdigest()
    return Idempotency(key, scope, fingerprint)


IdempotencyDep = Annotated[Idempotency, Depends(idempotency)]


def _canonical(body: bytes) -> str:
    # The same JSON with other spacing or key order is the same request.
    try:
        return json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"))
    except ValueError:  # not JSON (the route refuses it anyway), or empty
        return body.decode("utf-8", "replace")


def replayable(status: int, description: str) -> dict[int | str, dict[str, Any]]:
    """A route's success response, documented with the replay header."""
    header = {
        "description": "`true` when this answer is the stored answer to an earlier "
        f"request with the same {HEADER}.",
        "schema": {"type": "string", "enum": ["true"]},
    }
    return {status: {"description": description, "headers": {REPLAYED_HEADER: header}}}


def add_handlers(app: FastAPI) -> None:
    """Answer a replay with the stored answer, a reused key with a 422 naming the header."""
    app.add_exception_handler(Replayed, _replay)
    app.add_exception_handler(KeyReused, _reused)


async def _replay(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Replayed)
    answer = exc.answer
    headers = {**answer.headers, REPLAYED_HEADER: "true"}
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)


async def _reused(_: Request, exc: Exception) -> JSONResponse:
    error = {
        "type": "idempotency_key_reused",
        "loc": ["header", HEADER],
        "msg": f"This {HEADER} was used for a different request (another body or path); "
        "send a new key for a new request",
    }
    return AsciiJSONResponse({"detail": [error]}, status_code=422)
