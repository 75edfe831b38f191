"""The FastAPI shell every service shares: lifespan, health, errors, paging, AsyncAPI."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError

from sagakit import asyncapi, telemetry
from sagakit.changes import MAX_WAIT_SECONDS, ChangeFeed
from sagakit.errors import Conflict, NotFound
from sagakit.events import CENT
from sagakit.observability import HttpMetrics, metrics_router
from sagakit.runtime import ServiceRuntime
from sagakit.schema import SchemaState
from sagakit.uow import AbstractUnitOfWork
from sagakit.waiting import NotReachable

T = TypeVar("T")
log = logging.getLogger(__name__)

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


async def get_runtime(request: Request) -> ServiceRuntime:
    """The running service's runtime (set by the lifespan)."""
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]


async def get_changes(runtime: RuntimeDep) -> ChangeFeed:
    """The process's feed of changed bookings, for long polling."""
    return runtime.changes


ChangesDep = Annotated[ChangeFeed, Depends(get_changes)]
WaitSeconds = Annotated[
    float,
    Query(
        ge=0,
        le=MAX_WAIT_SECONDS,
        description="Long polling: answer once the status is one of `wait_for`, or after "
        "this many seconds with the current state (0: answer now).",
    ),
]


UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {
        "description": "The database is not usable yet: its schema is being migrated, or the "
        "connection was lost. Retry after `Retry-After` seconds."
    }
}


async def require_schema(runtime: RuntimeDep) -> None:
    """Every API route: 503 while the database schema is behind the code (being migrated)."""
    schema = runtime.schema
    if not schema.open:
        why = "being migrated" if schema.state is SchemaState.BEHIND else "not readable yet"
        raise HTTPException(
            status_code=503,
            detail=f"the database schema is {why} ({schema.describe()}); retry shortly",
            headers={"Retry-After": str(max(1, round(runtime.settings.schema_check_seconds)))},
        )


async def unit_of_work(runtime: RuntimeDep) -> AbstractUnitOfWork:
    """A fresh unit of work for one request (services annotate it with their own type)."""
    return runtime.new_uow()


class Health(BaseModel):
    """Liveness or readiness answer."""

    status: str
    checks: dict[str, str] = {}


health_router = APIRouter(tags=["health"])


@health_router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is alive."""
    return Health(status="ok")


@health_router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(runtime: RuntimeDep) -> Any:
    """The service's database and Redis answer (the schema's state is reported too)."""
    checks = await runtime.check()
    # The schema is reported but never makes the pod unready: with migrations in a Helm
    # post-install hook, `helm install --wait` waits for Ready pods before it runs the
    # hook, so a pod unready until migrated would wait forever. The API answers 503 instead.
    ready = all(value == "ok" for key, value in checks.items() if key != "schema")
    body = Health(status="ok" if ready else "unavailable", checks=checks)
    return body if ready else JSONResponse(body.model_dump(), status_code=503)


def _asyncapi_router(title: str, version: str) -> APIRouter:
    router = APIRouter(tags=["events"])

    @router.get("/asyncapi.json")
    async def asyncapi_json(runtime: RuntimeDep) -> Any:
        """The events this service publishes and consumes (AsyncAPI 3)."""
        return JSONResponse(asyncapi.document(runtime.bus.broker, title, version))

    @router.get("/asyncapi", response_class=HTMLResponse)
    async def asyncapi_html(runtime: RuntimeDep) -> str:
        """The AsyncAPI document rendered as a page."""
        return asyncapi.html(asyncapi.document(runtime.bus.broker, title, version))

    return router


def create_service_app(
    *,
    service_name: str,
    title: str,
    description: str,
    version: str,
    runtime_factory: Callable[[], ServiceRuntime],
    routers: Sequence[APIRouter],
) -> FastAPI:
    """A FastAPI app that starts the service runtime for its lifetime."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = runtime_factory()
        app.state.runtime = runtime
        try:
            await runtime.start()
        except NotReachable as exc:
            log.error("%s: giving up", exc)  # one clear line before the traceback
            await runtime.stop()
            raise
        try:
            yield
        finally:
            await runtime.stop()

    telemetry.configure(service_name)
    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan)
    for router in routers:
        app.include_router(router, dependencies=[Depends(require_schema)], responses=UNAVAILABLE)
    for router in (health_router, metrics_router, _asyncapi_router(title, version)):
        app.include_router(router)
    app.add_middleware(HttpMetrics, service=service_name)
    telemetry.instrument_app(app)
    app.add_exception_handler(NotFound, _status_handler(404))
    app.add_exception_handler(Conflict, _status_handler(409))
    app.add_exception_handler(DBAPIError, _database_unavailable)
    return app


async def _database_unavailable(_: Request, exc: Exception) -> JSONResponse:
    # A lost connection (database restarted, failover) is worth a retry; anything else
    # from the database is a bug and stays a 500.
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return JSONResponse(
            {"detail": "the database connection was lost; retry the request"},
            status_code=503,
            headers={"Retry-After": "1"},
        )
    raise exc


def _status_handler(status: int) -> Callable[[Request, Exception], Any]:
    async def handler(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status)

    return handler
