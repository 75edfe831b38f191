"""The FastAPI app every service shares: lifespan, tokens, schema gate, errors, health, AsyncAPI.

The types and dependencies its routes use (ids, money, paging, long polling, the unit
of work) are in sagakit.api.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import psycopg
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from sagakit import asyncapi, exposure, idempotency_api, telemetry
from sagakit.access import RULES, Rule
from sagakit.api import RuntimeDep, problem
from sagakit.auth import TokenVerifier, build_verifier
from sagakit.authz import AUTH_RESPONSES, authorize, check_routes
from sagakit.errors import Conflict, NotFound, Overloaded
from sagakit.guards import RequestLimits, strict_json, validation_failed
from sagakit.health import health_router
from sagakit.observability import HttpMetrics, metrics_router
from sagakit.runtime import ServiceRuntime
from sagakit.schema import SchemaState
from sagakit.settings import ServiceSettings
from sagakit.unavailable import NETWORK_ERRORS, RETRY_AFTER_SECONDS, unreachable
from sagakit.waiting import NotReachable

log = logging.getLogger(__name__)

# What every API route may answer besides its own: a request too large to look at, or
# no room for it now.
REFUSED: dict[int | str, dict[str, Any]] = {
    414: problem("The URL is longer than the service accepts (HTTP_MAX_URL_BYTES)"),
    431: problem("The headers are larger than the service accepts (HTTP_MAX_HEADER_BYTES)"),
    503: problem(
        "No room for the request now: the database schema is being migrated, Postgres or "
        "Redis cannot be reached (a restart, a failover, a network cut), every database "
        "connection is busy, too many requests are waiting already, or the token issuer's "
        "keys could not be fetched. Retry after `Retry-After` seconds."
    ),
}


async def admit(request: Request) -> None:
    """Every API route, once authorized: 503 while the database schema is behind the code
    (being migrated), then the strict reading of a JSON body (sagakit.guards.strict_json).
    One dependency for both: FastAPI's cost per dependency is paid on every request."""
    runtime: ServiceRuntime = request.app.state.runtime
    schema = runtime.schema
    if not schema.open:
        why = "being migrated" if schema.state is SchemaState.BEHIND else "not readable yet"
        raise HTTPException(
            status_code=503,
            detail=f"the database schema is {why} ({schema.describe()}); retry shortly",
            headers={"Retry-After": str(max(1, round(runtime.settings.schema_check_seconds)))},
        )
    await strict_json(request)


def _asyncapi_router(title: str, version: str) -> APIRouter:
    router = APIRouter(tags=["events"])

    @router.get("/asyncapi.json")
    async def asyncapi_json(runtime: RuntimeDep) -> Any:
        """The events this service publishes and consumes (AsyncAPI 3)."""
        return JSONResponse(asyncapi.document(runtime.bus.documented, title, version))

    @router.get("/asyncapi", response_class=HTMLResponse)
    async def asyncapi_html(runtime: RuntimeDep) -> str:
        """The AsyncAPI document rendered as a page."""
        return asyncapi.html(asyncapi.document(runtime.bus.documented, title, version))

    return router


def _lifespan(
    runtime_factory: Callable[[], ServiceRuntime], verifier: TokenVerifier
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = runtime_factory()
        app.state.runtime = runtime
        try:
            await runtime.start()
        except NotReachable as exc:
            log.error("%s: giving up", exc)  # one clear line before the traceback
            await runtime.stop()
            await verifier.aclose()
            raise
        try:
            yield
        finally:
            await runtime.stop()
            await verifier.aclose()

    return lifespan


def create_service_app(
    *,
    service_name: str,
    title: str,
    description: str,
    version: str,
    settings: ServiceSettings,
    runtime_factory: Callable[[], ServiceRuntime],
    routers: Sequence[APIRouter],
    access_rules: Mapping[str, Rule] | None = None,
) -> FastAPI:
    """A FastAPI app that starts the service runtime for its lifetime.

    Every route of `routers` needs a bearer token and a rule in `access_rules` (default:
    the service's entry of sagakit.access.RULES);
    raises auth.AuthConfigError when the AUTH_* settings cannot work, and RuntimeError
    when a route has no rule (deny by default). `settings` also decide what it exposes:
    the docs (DOCS_ENABLED) and the Host names it answers (ALLOWED_HOSTS, sagakit.exposure).
    """
    verifier = build_verifier(settings)
    telemetry.configure(
        service_name,
        sql_statements=settings.trace_sql_statements,
        redis_commands=settings.trace_redis_commands,
    )
    lifespan = _lifespan(runtime_factory, verifier)
    docs = exposure.docs_urls(settings.docs_enabled)
    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan, **docs)
    app.state.verifier = verifier
    app.state.access_rules = RULES.get(service_name, {}) if access_rules is None else access_rules
    for router in routers:
        # Authorization first: a caller without a token learns nothing, not even the schema's
        # state; then the schema gate and the strict reading of a JSON body.
        guards = [Depends(authorize), Depends(admit)]
        app.include_router(router, dependencies=guards, responses=AUTH_RESPONSES | REFUSED)
    for router in (health_router, metrics_router):
        app.include_router(router)
    if settings.docs_enabled:
        app.include_router(_asyncapi_router(title, version))
    if "*" not in settings.allowed_hosts:
        # Inside HttpMetrics, so refused requests still show in the request counts.
        app.add_middleware(exposure.TrustedHosts, allowed_hosts=settings.allowed_hosts)
    app.add_middleware(
        RequestLimits,
        max_body_bytes=settings.http_max_body_bytes,
        max_url_bytes=settings.http_max_url_bytes,
        max_header_bytes=settings.http_max_header_bytes,
    )
    app.add_middleware(HttpMetrics, service=service_name)
    telemetry.instrument_app(app)
    _add_error_handlers(app)
    check_routes(app, app.state.access_rules)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_failed)
    app.add_exception_handler(NotFound, _status_handler(404))
    app.add_exception_handler(Conflict, _status_handler(409))
    app.add_exception_handler(Overloaded, _retry_later)
    app.add_exception_handler(PoolTimeout, _retry_later)
    # Postgres or Redis out of reach (restart, failover, network): 503. Registered on the
    # classes, not on Exception: Starlette's catch-all answers but then re-raises, and
    # uvicorn closes the keep-alive connection after an exception.
    for error in (DBAPIError, psycopg.Error, *NETWORK_ERRORS):
        app.add_exception_handler(error, _dependency_unavailable)
    idempotency_api.add_handlers(app)


async def _retry_later(_: Request, exc: Exception) -> JSONResponse:
    # Too many waiting long polls, or no database connection free within the pool
    # timeout: the process is busy, not broken; the client should come back shortly.
    headers = {"Retry-After": "1"}
    if isinstance(exc, Overloaded):
        # A refused long poll also gives its connection back: a flood of them then holds
        # only the admitted waiters' connections, well under HTTP_LIMIT_CONCURRENCY.
        headers["Connection"] = "close"
    detail = str(exc) if isinstance(exc, Overloaded) else "every database connection is busy"
    return JSONResponse({"detail": f"{detail}; retry shortly"}, status_code=503, headers=headers)


async def _dependency_unavailable(_: Request, exc: Exception) -> JSONResponse:
    # Worth a retry: the database or Redis could not be reached or dropped the connection.
    # Anything else from them (a unique violation, bad SQL) is a bug and stays a 500.
    if not unreachable(exc):
        raise exc
    log.warning("503: a dependency is out of reach: %s", _first_line(exc))
    return JSONResponse(
        {"detail": "the database or Redis cannot be reached now; retry shortly"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {text[0] if text else ''}"


def _status_handler(status: int) -> Callable[[Request, Exception], Any]:
    async def handler(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status)

    return handler
