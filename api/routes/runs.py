"""Run history (every role) and one run's details (admins)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from credgraph.api.deps import CallerDep, GatewayDep
from credgraph.api.errors import ERROR_RESPONSES
from credgraph.api.models import RunDetail, RunPage
from credgraph.services.paging import MAX_OFFSET
from credgraph.services.run_history import list_runs, run_detail

router = APIRouter(prefix="/runs", tags=["runs"], responses=ERROR_RESPONSES)


@router.get("", response_model=RunPage, summary="Propagation runs, newest first")
def runs(
    gw: GatewayDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    return list_runs(gw, limit=limit, offset=offset)


@router.get("/{run_id}", response_model=RunDetail, summary="One run's details (admin)")
def run(
    gw: GatewayDep, caller: CallerDep, run_id: Annotated[str, Path(max_length=200)]
) -> dict[str, Any]:
    return run_detail(gw, run_id, caller=caller)
