"""One JSON error shape for every error: ``{"error": {code, message, field, hint, status}}``.

A :class:`CredgraphError` keeps its ``code``, ``field``, ``hint`` and
``http_status``; request validation is 422 ``invalid_request`` naming the field;
Starlette's own errors (an unknown path, a wrong method) keep their status; any
other exception is a 500 ``internal_error`` whose details stay in the server's log:
no stack trace or exception text ever reaches a client.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from neo4j.exceptions import DriverError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from credgraph.api.models import ErrorResponse
from credgraph.graph.errors import CredgraphError, DatabaseError

log = logging.getLogger("credgraph.api")

STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "invalid_request",
    500: "internal_error",
    503: "unavailable",
}


#: Endpoints whose requests are subject lookups, with how their handlers audit them:
#: ``(action, subject)``; ``subject`` None: the path's ``subject_id``; ``"*"``: a
#: lookup of no one subject (a search, a named query). ``{name}`` in the action is the
#: path's ``name`` (``query:{name}``). Marked by :func:`audited_lookup`.
LOOKUPS: dict[Callable[..., Any], tuple[str, str | None]] = {}

F = TypeVar("F", bound=Callable[..., Any])


def audited_lookup(action: str, subject: str | None = None) -> Callable[[F], F]:
    """Mark a route's endpoint as a subject lookup audited as ``action`` (of the path's
    ``subject_id``, or of ``subject`` when given), so a request FastAPI refuses before
    the handler runs is audited all the same."""

    def mark(endpoint: F) -> F:
        LOOKUPS[endpoint] = (action, subject)
        return endpoint

    return mark


def audit_refused(request: Request, message: str) -> None:
    """Audit a subject lookup that FastAPI refused before its handler ran (a bad
    parameter, an over-long id, a body that is no JSON object): every lookup is on the
    record, refused ones too; ``detail`` is ``refused: why`` and, for a lookup of no one
    subject (a search, a named query), what was asked as given. Nothing is written
    when the request is no subject lookup, names no known named query, or its key is
    not valid (it was refused for that, and there is no caller to name)."""
    from credgraph.api.deps import caller_of_request
    from credgraph.queries.library import library
    from credgraph.services.scores import audit

    spec = LOOKUPS.get(request.scope.get("endpoint"))  # type: ignore[arg-type]
    if spec is None:
        return
    action, subject = spec
    detail = f"refused: {message}"
    if subject is None:
        subject = request.path_params.get("subject_id")
        if subject is None:
            return
    elif request.query_params:
        detail += "; " + json.dumps(dict(request.query_params), ensure_ascii=False)
    if "{name}" in action:
        name = request.path_params.get("name")
        if name not in library():
            return
        action = action.replace("{name}", name)
    try:
        caller = caller_of_request(request)
        subject = subject if len(subject) <= 200 else subject[:200] + f"…[{len(subject)} chars]"
        audit(request.app.state.gateway, caller, subject, action, detail=detail[:2000])
    except CredgraphError:
        log.info("a refused lookup of %s was not audited (no valid key)", request.url.path)


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    hint: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "field": field, "hint": hint}}
    body["error"]["status"] = status  # type: ignore[assignment]
    return JSONResponse(body, status_code=status, headers=headers)


# Documented on every route (the 'responses' of the OpenAPI description).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorResponse, "description": STATUS_CODES[s]}
    for s in (400, 401, 403, 404, 422, 500, 503)
}


def install(app: FastAPI) -> None:
    @app.exception_handler(CredgraphError)
    async def credgraph_error(request: Request, exc: CredgraphError) -> JSONResponse:
        status = exc.http_status
        if status >= 500:
            log.error("%s %s: %s (%s)", request.method, request.url.path, exc.code, exc.message)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        message, hint = exc.message, exc.hint
        if isinstance(exc, DatabaseError) and isinstance(exc.__cause__, DriverError):
            # The driver's words name hosts, ports and resolved addresses, and the hint
            # speaks to whoever runs the CLI: the log has them, a client gets this.
            message = "the database is not reachable"
            hint = "the service is up but its database is not: try again later"
        return error_response(
            status, exc.code, message, field=exc.field, hint=hint, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "path", "header", "body")]
        # a body refused as a whole (not an object) is about the body
        field = ".".join(loc) or ("body" if first.get("loc", ())[:1] == ("body",) else None)
        msg = str(first.get("msg", "invalid request"))
        if first.get("type") == "json_invalid":
            # loc is ("body", POSITION): the body as a whole is the field, not the offset
            where = first.get("loc", ())[1:2]
            field, msg = "body", "not valid JSON" + (f" (at character {where[0]})" if where else "")
        message = f"{field}: {msg}" if field else msg
        await run_in_threadpool(audit_refused, request, message)
        return error_response(422, "invalid_request", message, field=field)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return error_response(
            exc.status_code, code, message, headers=dict(exc.headers) if exc.headers else None
        )

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return error_response(
            500, "internal_error", "internal error; the server's log has the details"
        )
