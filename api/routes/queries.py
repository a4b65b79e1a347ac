"""Named queries: ``GET /queries`` lists them, ``POST /queries/{name}`` runs one.

Both call the use case ``credgraph.services.queries`` (the library of named
Cypher queries shared with ``credgraph query``): parameters are checked against
the query's header (a bad one is a 400 naming the parameter as ``field``), the
run is audited before it runs (action ``query:NAME``), and it runs in a read
transaction with a time limit and a row cap. Running a named query needs the
investigator role (its rows may name people); listing them any role.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path

from credgraph.api.deps import CallerDep, GatewayDep
from credgraph.api.errors import ERROR_RESPONSES, audited_lookup
from credgraph.api.models import QueryList, QueryResult
from credgraph.services import queries as named

router = APIRouter(prefix="/queries", tags=["queries"], responses=ERROR_RESPONSES)


@router.get("", response_model=QueryList, summary="The named queries")
def queries(caller: CallerDep) -> dict[str, Any]:
    return {"items": [q.to_dict() for q in named.list_queries()]}


@router.post("/{name}", response_model=QueryResult, summary="Run a named query (investigator)")
@audited_lookup("query:{name}", subject="*")
def run(
    gw: GatewayDep,
    caller: CallerDep,
    name: Annotated[str, Path(max_length=100)],
    params: Annotated[
        dict[str, Any] | None,
        Body(description="the query's parameters by name (see GET /queries)"),
    ] = None,
) -> dict[str, Any]:
    # run_named audits the lookup, then checks the role (a refused one is on record)
    res = named.run_named(gw, name, params or {}, caller=caller)
    return res.to_dict() | {"name": name, "params": res.params}
