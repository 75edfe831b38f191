"""Liveness and readiness of a service process."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from sagakit.api import RuntimeDep


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
    """The database and Redis answer and every event subscriber runs (schema reported too)."""
    checks = await runtime.check()
    # The schema is reported but never makes the pod unready: with migrations in a Helm
    # post-install hook, `helm install --wait` waits for Ready pods before it runs the
    # hook, so a pod unready until migrated would wait forever. The API answers 503 instead.
    ready = all(value == "ok" for key, value in checks.items() if key != "schema")
    body = Health(status="ok" if ready else "unavailable", checks=checks)
    return body if ready else JSONResponse(body.model_dump(), status_code=503)
