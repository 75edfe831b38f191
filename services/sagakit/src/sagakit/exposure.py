"""What a service shows, and under which Host names: the docs switch and trusted hosts.

`DOCS_ENABLED=false` removes /docs, /redoc, /openapi.json and /asyncapi*. `ALLOWED_HOSTS`
limits the Host header a request may carry (Starlette's TrustedHostMiddleware: a foreign
name gets 400), which stops DNS rebinding and Host-header poisoning. The probe and
metrics paths are exempt: kubelets and Prometheus call a pod by its IP address.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

# Called by address, never by name (kubelet probes, Prometheus scrapes).
UNCHECKED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
DOCS_PATHS = ("/docs", "/redoc", "/openapi.json")


class DocsUrls(TypedDict):
    """FastAPI's arguments that place (or, None, remove) the docs."""

    docs_url: str | None
    redoc_url: str | None
    openapi_url: str | None


def docs_urls(enabled: bool) -> DocsUrls:
    """FastAPI's docs_url, redoc_url and openapi_url: the defaults, or all None when off."""
    docs, redoc, openapi = DOCS_PATHS if enabled else (None, None, None)
    return DocsUrls(docs_url=docs, redoc_url=redoc, openapi_url=openapi)


def split_hosts(value: str) -> list[str]:
    """`a.example, *.b.example` -> ["a.example", "*.b.example"] (blanks dropped)."""
    return [host.strip() for host in value.split(",") if host.strip()]


def check_hosts(hosts: Sequence[str]) -> list[str]:
    """The host patterns, or ValueError naming one TrustedHostMiddleware would refuse."""
    if not hosts:
        raise ValueError("name at least one host, or `*` for any")
    for host in hosts:
        wildcard = host.startswith("*.") and "*" not in host[2:]
        if "*" in host and host != "*" and not wildcard:
            raise ValueError(f"{host!r}: a wildcard must be `*` or lead, like `*.example.com`")
        if any(char in host for char in "/: "):
            raise ValueError(f"{host!r}: a host name only, without scheme, port or path")
    return list(hosts)


class TrustedHosts:
    """TrustedHostMiddleware for every path except UNCHECKED_PATHS."""

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.checked = TrustedHostMiddleware(app, allowed_hosts=allowed_hosts, www_redirect=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in UNCHECKED_PATHS:
            await self.app(scope, receive, send)
        else:
            await self.checked(scope, receive, send)
