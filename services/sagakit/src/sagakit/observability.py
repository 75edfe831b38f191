"""HTTP metrics middleware and the /metrics endpoint."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST as PROMETHEUS_TEXT
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS_TEXT
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sagakit import metrics

metrics_router = APIRouter(tags=["health"])


@metrics_router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(request: Request) -> Response:
    """Prometheus metrics; OpenMetrics (with exemplars) when the scraper asks for it."""
    if "application/openmetrics-text" in request.headers.get("accept", ""):
        body = generate_openmetrics(REGISTRY)  # type: ignore[no-untyped-call]
        return Response(body, media_type=OPENMETRICS_TEXT)
    return Response(generate_latest(REGISTRY), media_type=PROMETHEUS_TEXT)


class HttpMetrics:
    """Counts and times requests by route template (not raw path: ids would explode labels)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") == "/metrics":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            self._observe(scope, status, time.perf_counter() - started)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        route: Any = scope.get("route")
        path = getattr(route, "path", "unmatched")
        method = scope.get("method", "")
        metrics.HTTP_REQUESTS.labels(self.service, method, path, str(status)).inc()
        metrics.HTTP_DURATION.labels(self.service, method, path).observe(seconds)
