"""The HTTP API: ``create_app()`` builds it (``credgraph serve`` runs it).

Settings are read once, when the app is built; the lifespan opens one driver
(one :class:`Gateway`) for the process and closes it at shut-down. Routes parse
and call the use cases (credgraph.services); errors leave in one JSON shape
(api/errors.py); every route but ``/health`` needs an API key; ``/ui/...`` is the
neighbourhood viewer (static, served by this process; it sends the key with every
data request it makes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from credgraph.api import errors, metrics
from credgraph.api.deps import CallerDep, GatewayDep, SettingsDep
from credgraph.api.models import ErrorResponse, Health
from credgraph.api.routes import audit, queries, runs, subjects, ui
from credgraph.graph.gateway import Gateway
from credgraph.graph.runs import Runs
from credgraph.graph.settings import Settings, load_settings

STATIC = Path(__file__).resolve().parent / "static"
DESCRIPTION = """Subjects, explainable trust scores and neighbourhoods of the credgraph trust network.

Every route but `/health` needs an API key (`credgraph apikey create --role ROLE`), sent as
`X-API-Key: KEY` or `Authorization: Bearer KEY`. Roles: `viewer` (no personal identifiers),
`investigator` (names and dates), `admin` (also the audit log and run details). An optional
`X-Purpose` header is written to the audit log with every subject read. Every error has the
shape `{"error": {"code", "message", "field", "hint", "status"}}`.
"""


def create_app(settings: Settings | None = None, gateway: Gateway | None = None) -> FastAPI:
    """The API over ``settings`` (default: read from the environment, once). The
    lifespan opens the process's one gateway and closes it at shut-down; with a
    ``gateway`` given (tests), the app uses that one and leaves it open."""
    conf = settings if settings is not None else load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = app.state.gateway is None
        if own:
            app.state.gateway = Gateway(app.state.settings, wait=app.state.settings.api_db_wait)
        try:
            yield
        finally:
            if own:
                app.state.gateway.close()
                app.state.gateway = None

    app = FastAPI(
        title="credgraph",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        responses={500: {"model": ErrorResponse, "description": "internal_error"}},
        # Every route but /health needs a key (the contract): the OpenAPI description
        # is served below behind one, and the browsable /docs and /redoc pages (which
        # cannot send a key, and load their scripts from a CDN) are left out.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = conf
    app.state.gateway = gateway
    errors.install(app)
    registry = metrics.install(app)

    @app.get("/health", response_model=Health, tags=["service"], summary="Liveness and database")
    def health(gw: GatewayDep, settings: SettingsDep) -> dict[str, Any]:
        run = Runs(gw, settings).current()  # a DatabaseError is a 503 in the error shape
        return {"status": "ok", "database": True, "current_run": run["id"] if run else None}

    @app.get(
        "/metrics",
        tags=["service"],
        summary="Prometheus metrics (any valid key)",
        response_class=Response,
        responses={
            200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "metrics"},
            **errors.ERROR_RESPONSES,
        },
    )
    def metrics_route(caller: CallerDep) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get(
        "/openapi.json",
        tags=["service"],
        summary="The OpenAPI description (any valid key)",
        responses=errors.ERROR_RESPONSES,
    )
    def openapi_route(caller: CallerDep) -> dict[str, Any]:
        return app.openapi()

    for module in (subjects, runs, queries, audit, ui):
        app.include_router(module.router)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="static")
    return app
