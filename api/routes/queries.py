"""Named queries: ``GET /queries`` lists them, ``POST /queries/{name}`` runs one.

The use case lives in ``credgraph.services.queries`` (the library of named
queries). This module is the API's side of that interface; it imports the use
case lazily and answers 503 ``not_available`` in the one error shape when it is
not installed. Expected interface::

    list_queries() -> list[dict]                       # name, description, parameters
    run_query(gw, settings, name, params, *, caller) -> dict   # columns, rows, ...

Running a named query needs the investigator role (its rows may name people).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path

from credgraph.api.deps import CallerDep, GatewayDep, SettingsDep
from credgraph.api.errors import ERROR_RESPONSES
from credgraph.api.models import QueryList, QueryResult
from credgraph.graph.errors import CredgraphError
from credgraph.services.apikeys import require_role

router = APIRouter(prefix="/queries", tags=["queries"], responses=ERROR_RESPONSES)


class NotAvailable(CredgraphError):
    code = "not_available"
    http_status = 503


def use_case() -> ModuleType:
    """credgraph.services.queries, or 503 not_available."""
    try:
        return importlib.import_module("credgraph.services.queries")
    except ImportError as exc:
        raise NotAvailable("named queries are not available in this build") from exc


@router.get("", response_model=QueryList, summary="The named queries")
def queries(caller: CallerDep) -> dict[str, Any]:
    return {"items": use_case().list_queries()}


@router.post("/{name}", response_model=QueryResult, summary="Run a named query (investigator)")
def run(
    gw: GatewayDep,
    settings: SettingsDep,
    caller: CallerDep,
    name: Annotated[str, Path(max_length=100)],
    params: Annotated[dict[str, Any] | None, Body(description="the query's parameters")] = None,
) -> dict[str, Any]:
    require_role(caller, "investigator")
    result: dict[str, Any] = use_case().run_query(gw, settings, name, params or {}, caller=caller)
    return result
