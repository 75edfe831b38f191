"""What the real app shows (DOCS_ENABLED) and to which Host names (ALLOWED_HOSTS)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter

from sagakit.access import ADMIN, Scope
from sagakit.runtime import ServiceRuntime
from sagakit.settings import ServiceSettings
from sagakit.spec import ServiceSpec
from sagakit.testing import REDIS_URL, key_settings, running_app, unique_prefix
from sagakit.web import create_service_app

DOCS = ("/docs", "/redoc", "/openapi.json", "/asyncapi", "/asyncapi.json")
# What a kubelet probe or a Prometheus scrape sends: the pod's address.
POD_ADDRESS = "10.244.0.7:8000"

router = APIRouter()


@router.get("/notes")
async def list_notes() -> dict[str, bool]:
    """An API route of the test service."""
    return {"ok": True}


Serve = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def serve(
    database_url: str, notes_spec: ServiceSpec, dev_key_file: Path, bearer: Callable[..., Any]
) -> Serve:
    """serve(**settings) -> the notes app running in process, with those settings."""

    @asynccontextmanager
    async def run(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        settings = ServiceSettings(
            service_name="notes",
            database_url=database_url,
            redis_url=REDIS_URL,
            event_prefix=unique_prefix(),
            auth_mode="dev",
            auth_dev_key_file=str(dev_key_file),
            **key_settings(notes_spec.name),  # signs and verifies events like the service it plays
            **overrides,
        )
        app = create_service_app(
            service_name="notes",
            title="Notes",
            description="The test service.",
            version="0",
            runtime_factory=lambda: ServiceRuntime(notes_spec, settings),
            routers=[router],
            settings=settings,
            access_rules={"GET /notes": {ADMIN: Scope.ALL}},
        )
        async with running_app(app, headers=bearer("root", ADMIN)) as client:
            yield client

    return run


async def test_the_docs_are_served_by_default(serve: Serve) -> None:
    async with serve() as client:
        for path in DOCS:
            assert (await client.get(path)).status_code == 200, path


async def test_docs_off_removes_every_docs_route_and_keeps_the_api(serve: Serve) -> None:
    async with serve(docs_enabled=False) as client:
        for path in (*DOCS, "/docs/oauth2-redirect"):
            assert (await client.get(path)).status_code == 404, path
        assert (await client.get("/notes")).json() == {"ok": True}


async def test_a_foreign_host_gets_400_and_a_listed_one_gets_through(serve: Serve) -> None:
    async with serve(allowed_hosts=["saga-notes", "api.example.com"]) as client:
        for path in ("/notes", "/docs", "/openapi.json"):
            refused = await client.get(path, headers={"Host": "evil.example"})
            assert (refused.status_code, refused.text) == (400, "Invalid host header"), path
        for host in ("api.example.com", "saga-notes:80", "API.EXAMPLE.COM"):
            response = await client.get("/notes", headers={"Host": host})
            assert response.status_code == 200, host


async def test_probes_and_metrics_answer_whatever_the_host(serve: Serve) -> None:
    async with serve(allowed_hosts=["saga-notes"]) as client:
        for path in ("/healthz", "/readyz", "/metrics"):
            for host in (POD_ADDRESS, "evil.example"):
                response = await client.get(path, headers={"Host": host})
                assert response.status_code == 200, (path, host, response.text)
        refused = await client.get("/notes", headers={"Host": POD_ADDRESS})
        assert refused.status_code == 400


async def test_a_refused_host_is_counted_in_the_request_metrics(serve: Serve) -> None:
    async with serve(allowed_hosts=["saga-notes"]) as client:
        await client.get("/notes", headers={"Host": "evil.example"})
        metrics = (await client.get("/metrics")).text
    refused = [
        line
        for line in metrics.splitlines()
        if line.startswith("saga_http_requests_total{")
        and 'service="notes"' in line
        and 'status="400"' in line
    ]
    assert refused, "the 400 is not in saga_http_requests_total"
