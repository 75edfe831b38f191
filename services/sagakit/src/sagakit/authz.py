"""The access table (sagakit.access) applied to FastAPI: authenticate, authorize, scope.

`authorize` guards every API route (sagakit.web adds it to each service router): 401
without a valid bearer token, 403 when the table gives none of the token's roles the
route, else an `Access` the route asks for (`AccessDep`) to keep a customer to its own
data. Both refusals carry `WWW-Authenticate: Bearer ...` (RFC 6750) and a JSON `detail`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sagakit.access import CUSTOMER, OPEN_PATHS, Rule, Scope, scope_of
from sagakit.api import CUSTOMER_ID_RULES, Problem
from sagakit.auth import InvalidToken, Principal, TokenVerifier
from sagakit.jwks import MIN_INTERVAL_SECONDS, KeysUnavailable

REALM = "saga"
bearer = HTTPBearer(
    scheme_name="bearer",
    bearerFormat="JWT",
    description="An access token of the OIDC issuer (AUTH_ISSUER) carrying the roles "
    "`customer`, `manager` or `admin`; locally (AUTH_MODE=dev) one signed with the dev key. "
    "See docs/security.md.",
    auto_error=False,
)


AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No bearer token, or an invalid or expired one."},
    403: {
        "model": Problem,
        "description": "A valid token without a role this route needs, or a customer "
        "acting for another customer.",
    },
}


def _header(error: str | None = None, description: str | None = None) -> dict[str, str]:
    value = f'Bearer realm="{REALM}"'
    if error:
        value += f', error="{error}"'
    if description:  # a quoted-string of printable ASCII without quotes or backslashes
        value += ', error_description="{}"'.format(re.sub(r'[^ -~]|["\\]', "'", description))
    return {"WWW-Authenticate": value}


def unauthorized(reason: str | None) -> HTTPException:
    """401: no token (`reason` None) or an invalid one."""
    if reason is None:
        return HTTPException(401, "a bearer token is required", _header())
    return HTTPException(401, f"invalid bearer token: {reason}", _header("invalid_token", reason))


def forbidden(reason: str) -> HTTPException:
    """403: the token is valid, but it may not do this."""
    return HTTPException(403, reason, _header("insufficient_scope", reason))


@dataclass(frozen=True)
class Access:
    """What a request may reach: `owner` None, every customer's data; else only the owner's."""

    principal: Principal
    owner: str | None

    def customers(self, asked: str | None) -> str | None:
        """The customer a list is filtered to: a customer's own, whoever staff asked for."""
        if self.owner is not None and asked not in (None, self.owner):
            raise forbidden("a customer may only list its own data (customer_id)")
        return self.owner if self.owner is not None else asked

    def customer(self, customer_id: str) -> None:
        """403 unless the caller may reach this customer's account."""
        if self.owner is not None and customer_id != self.owner:
            raise forbidden("a customer may only reach its own account")

    def booker(self, asked: str | None) -> str:
        """Who a new booking is for: a customer itself; an admin names the customer."""
        if asked is not None:
            self.customer(asked)
            return asked
        if self.owner is not None:
            return self.owner
        if CUSTOMER in self.principal.roles and _is_customer_id(self.principal.subject):
            return self.principal.subject
        error = {"type": "missing", "loc": ("body", "customer_id"), "input": None}
        error["msg"] = "Field required when an admin books on behalf of a customer"
        raise RequestValidationError([error])


async def authorize(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Access:
    """Every guarded route: who calls (401), may it (403), and how far it reaches."""
    if credentials is None:
        raise unauthorized(None)
    verifier: TokenVerifier = request.app.state.verifier
    try:
        principal = await verifier.verify(credentials.credentials)
    except InvalidToken as exc:
        raise unauthorized(str(exc)) from exc
    except KeysUnavailable as exc:
        retry = {"Retry-After": str(round(MIN_INTERVAL_SECONDS))}
        raise HTTPException(503, f"{exc}; retry shortly", retry) from exc
    route = f"{request.method} {getattr(request.scope.get('route'), 'path', '')}"
    rule: Rule | None = request.app.state.access_rules.get(route)
    if rule is None:  # check_routes keeps this from happening; deny all the same
        raise forbidden(f"{route} has no access rule: nobody may call it")
    scope = scope_of(rule, principal.roles)
    if scope is None:
        raise forbidden(f"{route} needs one of the roles: {', '.join(sorted(rule))}")
    if scope is Scope.ALL:
        return Access(principal, owner=None)
    if not _is_customer_id(principal.subject):
        raise forbidden("the token's subject (sub) is not a usable customer id")
    return Access(principal, owner=principal.subject)


AccessDep = Annotated[Access, Depends(authorize)]


def _is_customer_id(subject: str) -> bool:
    pattern, longest = CUSTOMER_ID_RULES["pattern"], CUSTOMER_ID_RULES["max_length"]
    return len(subject) <= longest and re.fullmatch(pattern, subject) is not None


def check_routes(app: FastAPI, rules: Mapping[str, Rule]) -> None:
    """Refuse an app with a route the access table does not cover, or a rule without route."""
    docs = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    guarded: set[str] = set()
    problems: list[str] = []
    for route in iter_route_contexts(app.routes):
        path = route.path or repr(route.original_route)
        if isinstance(route.original_route, APIRoute) and _guarded(route):
            # authorize finds the rule by the APIRoute's own path: no prefix added later.
            if route.original_route.path != path:
                problems.append(f"{path}: include_router(prefix=...) hides the rule's path")
            guarded.update(f"{method} {path}" for method in route.methods or ())
        elif path not in OPEN_PATHS | (docs - {None}):
            problems.append(f"{path}: served without authorization")
    problems += [
        f"{key}: no rule in sagakit.access.RULES" for key in sorted(guarded - rules.keys())
    ]
    problems += [f"{key}: a rule for no route" for key in sorted(rules.keys() - guarded)]
    if problems:
        raise RuntimeError(f"{app.title}: deny by default: {'; '.join(problems)}")


def _guarded(route: RouteContext) -> bool:
    dependencies: list[params.Depends] = getattr(route, "dependencies", [])
    return any(dependency.dependency is authorize for dependency in dependencies)
