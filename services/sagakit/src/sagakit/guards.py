"""What a request meets before a route runs: size caps, strict JSON, errors without echoes.

- `RequestLimits`: a body above `http_max_body_bytes` is a 413 (announced by
  Content-Length, or counted as it streams in), a URL longer than `http_max_url_bytes` a
  414, headers above `http_max_header_bytes` a 431; uvicorn's parser bounds the request
  head before any of this (sagakit.server). FastAPI's own `max_body_size` would do the
  413 too, but answers an announced one in plain text, not as the JSON the APIs document.
- `strict_json`: a JSON body with a duplicate key or a `NaN`/`Infinity` literal is a 422;
  Python's parser would silently keep the last value or make a float of them.
- `validation_failed`: a 422 lists type, location and message of each error, never the
  value sent (`input`, `ctx`): the echo of a hostile value is how a lone surrogate once
  made the 422 itself fail, and a client needs only to be told which field is wrong.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped: even a lone surrogate encodes."""

    def render(self, content: Any) -> bytes:
        """Serialize with `ensure_ascii` (Starlette's own rendering refuses surrogates)."""
        return json.dumps(content, allow_nan=False, separators=(",", ":")).encode("ascii")


class RequestLimits:
    """413 for a large body, 414 for a long URL, 431 for large headers, all as JSON."""

    def __init__(
        self, app: ASGIApp, max_body_bytes: int, max_url_bytes: int, max_header_bytes: int
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_url_bytes = max_url_bytes
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if (refusal := self._refusal(scope)) is not None:
            return await refusal(scope, receive, send)
        await self.app(scope, self._counted(receive), send)

    def _refusal(self, scope: Scope) -> JSONResponse | None:
        url = len(scope.get("raw_path") or scope["path"]) + len(scope["query_string"])
        headers = sum(len(name) + len(value) for name, value in scope["headers"])
        declared = Headers(scope=scope).get("content-length", "")
        if url > self.max_url_bytes:
            return _refused(414, f"the URL is longer than {self.max_url_bytes} bytes")
        if headers > self.max_header_bytes:
            return _refused(431, f"the headers are larger than {self.max_header_bytes} bytes")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            return _refused(413, self._too_large)
        return None

    @property
    def _too_large(self) -> str:
        return f"the body is larger than {self.max_body_bytes} bytes"

    def _counted(self, receive: Receive) -> Receive:
        # A chunked body announces no length: count it as it arrives. The HTTPException
        # reaches the route that is reading the body, and FastAPI answers it as JSON.
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                raise HTTPException(413, self._too_large, headers={"Connection": "close"})
            return message

        return counted


def _refused(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers={"Connection": "close"})


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _DuplicateKey(key)
        found[key] = value
    return found


def _no_constant(name: str) -> Any:
    raise ValueError(name)


async def strict_json(request: Request) -> None:
    """Every API route: a JSON body with a duplicate key or NaN/Infinity is a 422 naming it."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (media_type == "application/json" or media_type.endswith("+json")):
        return  # FastAPI refuses a body that is not JSON where a route expects one
    body = await request.body()  # already read (and size-checked) by FastAPI: cached
    if not body:
        return
    try:
        json.loads(body, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except json.JSONDecodeError:
        return  # a route that takes no body ignores it; one that does refused it already
    except _DuplicateKey as exc:
        raise _invalid("duplicate_key", (exc.key,), "Duplicate key in the JSON object") from None
    except ValueError as exc:  # NaN, Infinity, -Infinity: not JSON (RFC 8259)
        raise _invalid("json_constant", (), f"{exc} is not a JSON value") from None


def _invalid(kind: str, where: tuple[str, ...], message: str) -> RequestValidationError:
    return RequestValidationError([{"type": kind, "loc": ("body", *where), "msg": message}])


async def validation_failed(_: Request, exc: Exception) -> JSONResponse:
    """422 naming each wrong field (`loc`), why (`msg`) and the rule (`type`); no input."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [{key: error[key] for key in ("type", "loc", "msg")} for error in errors]
    return AsciiJSONResponse({"detail": detail}, status_code=422)
