"""Types and dependencies every service's HTTP API shares: ids, money, paging, long polling."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Path, Query, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

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
Amount = Annotated[
    Decimal,
    AfterValidator(lambda value: value.quantize(CENT)),
    Field(
        gt=0,
        max_digits=12,
        decimal_places=2,
        description="Money: positive, at most 2 decimals. Sent back as a string.",
        examples=["120.00"],
    ),
]


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


# Dependencies are `async def`: FastAPI runs a plain `def` one in a worker thread, a
# thread hop per request that costs more than the dependency itself.
async def page_params(
    limit: Annotated[int, Query(ge=1, le=500, description="Page size.")] = 50,
    offset: Annotated[int, Query(ge=0, description="Items to skip.")] = 0,
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


async def get_changes(runtime: RuntimeDep) -> ChangeFeed:
    """The process's feed of changed bookings, for long polling."""
    return runtime.changes


ChangesDep = Annotated[ChangeFeed, Depends(get_changes)]


async def unit_of_work(runtime: RuntimeDep) -> AbstractUnitOfWork:
    """A fresh unit of work for one request (services annotate it with their own type)."""
    return runtime.new_uow()
