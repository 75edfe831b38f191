"""Types and dependencies every service's HTTP API shares: ids, money, text, paging, long polling.

Input rules are checked on the text as sent, before anything converts it, and the OpenAPI
document states each one as a standard JSON Schema keyword (`pattern`, `maxLength` ...),
so generated clients, fuzzers and the service agree on what is valid.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Path, Query, Request
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from sagakit.changes import MAX_WAIT_SECONDS, ChangeFeed
from sagakit.events import CENT
from sagakit.runtime import ServiceRuntime
from sagakit.uow import AbstractUnitOfWork

T = TypeVar("T")

CUSTOMER_ID_RULES: dict[str, Any] = {
    "min_length": 1,
    "max_length": 64,
    "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$",
    "description": "Customer identifier: letters, digits and _ . @ -",
    "examples": ["alice"],
}
CustomerId = Annotated[str, Field(**CUSTOMER_ID_RULES)]
CustomerIdPath = Annotated[str, Path(**CUSTOMER_ID_RULES)]

# Money: ASCII digits, at most 10 before the point and 2 after, greater than zero; no sign,
# exponent, spaces, underscores or leading zeros. 9999999999.99 is what NUMERIC(12,2) holds.
MONEY_PATTERN = r"^(?:[1-9][0-9]{0,9}(?:\.[0-9]{1,2})?|0\.(?:[1-9][0-9]?|0[1-9]))$"
MONEY_RULE = (
    'a decimal string from "0.01" to "9999999999.99" with at most 2 decimals, such as "120.50"'
)
_MONEY = re.compile(MONEY_PATTERN)


def _money(value: object) -> Decimal:
    # A JSON number is refused rather than converted: many clients hold it as a binary
    # float (0.1 + 0.2), and the text is checked before Decimal ever sees it.
    if not isinstance(value, str) or _MONEY.fullmatch(value) is None:
        raise PydanticCustomError("money", f"Money is {MONEY_RULE}")
    return Decimal(value).quantize(CENT)  # exact: the pattern allows at most 2 decimals


Amount = Annotated[
    Decimal,
    BeforeValidator(_money),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": MONEY_PATTERN,
            "minLength": 1,
            "maxLength": 13,
            "description": f"Money: {MONEY_RULE}. Sent back with 2 decimals.",
            "examples": ["120.00"],
        },
        mode="validation",
    ),
]

# Free text (an item, a reason) reaches operators' terminals, logs and other services:
# no control characters (C0, DEL, C1: NUL, ESC, CR, LF, tab ...), no line or paragraph
# separators and no bidirectional formatting characters (which reorder what a reader sees).
# Lone surrogates are not text at all and fail as "not a valid string" before this.
TEXT_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*$"
_TEXT = re.compile(TEXT_PATTERN)


def _printable(value: str) -> str:
    if _TEXT.fullmatch(value) is None:
        raise PydanticCustomError(
            "text", "Text must not contain control characters or bidirectional formatting"
        )
    return value


FreeText = Annotated[
    str,
    AfterValidator(_printable),
    Field(min_length=1, json_schema_extra={"pattern": TEXT_PATTERN}),
]
"""One line of text; give its `max_length` where it is used."""


class Problem(BaseModel):
    """An error about the request as a whole (404, 409, 413, 503 ...): what is wrong."""

    detail: str


def problem(description: str) -> dict[str, Any]:
    """One entry of a route's `responses`: when it happens, and its `{"detail"}` body."""
    return {"description": description, "model": Problem}


# What every route that reads a body may answer before the body is validated.
BODY_REFUSED: dict[int | str, dict[str, Any]] = {
    400: problem("The body is not JSON the service can read: not UTF-8, or a number too long"),
    413: problem("The body is larger than the service accepts (HTTP_MAX_BODY_BYTES)"),
}


class StrictBody(BaseModel):
    """Request bodies reject unknown fields with a 422 naming them."""

    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    """One page of a list endpoint."""

    items: list[T]
    total: int
    limit: int
    offset: int


class PageParams(BaseModel):
    """`?limit=&offset=` of every list endpoint."""

    model_config = ConfigDict(frozen=True)
    limit: int
    offset: int


MAX_OFFSET = 2**63 - 1  # Postgres' OFFSET is a bigint


# Dependencies are `async def`: FastAPI runs a plain `def` one in a worker thread, a
# thread hop per request that costs more than the dependency itself.
async def page_params(
    limit: Annotated[int, Query(ge=1, le=500, description="Page size.")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")] = 0,
) -> PageParams:
    """Read the paging query parameters."""
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(page_params)]


WaitSeconds = Annotated[
    float,
    Query(
        ge=0,
        le=MAX_WAIT_SECONDS,
        description="Long polling: answer once the status is one of `wait_for`, or after "
        "this many seconds with the current state (0: answer now).",
    ),
]


async def get_runtime(request: Request) -> ServiceRuntime:
    """The running service's runtime (set by the lifespan)."""
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]


# The two below read the runtime themselves rather than through RuntimeDep: every
# dependency FastAPI solves costs a request ~20-40 µs (fastapi>=0.165 classifies each one
# per request), and these are on every route.
async def get_changes(request: Request) -> ChangeFeed:
    """The process's feed of changed bookings, for long polling."""
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime.changes


ChangesDep = Annotated[ChangeFeed, Depends(get_changes)]


async def unit_of_work(request: Request) -> AbstractUnitOfWork:
    """A fresh unit of work for one request (services annotate it with their own type)."""
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime.new_uow()
