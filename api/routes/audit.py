"""The audit log of subject lookups (admins)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from credgraph.api.deps import CallerDep, GatewayDep
from credgraph.api.errors import ERROR_RESPONSES
from credgraph.api.models import AuditPage
from credgraph.services.audit_log import audit_log
from credgraph.services.paging import MAX_OFFSET

router = APIRouter(tags=["audit"], responses=ERROR_RESPONSES)


@router.get("/audit", response_model=AuditPage, summary="Who looked up whom, when, why (admin)")
def audit(
    gw: GatewayDep,
    caller: CallerDep,
    subject: Annotated[str | None, Query(max_length=200)] = None,
    actor: Annotated[str | None, Query(max_length=200, description="an API key id")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    return audit_log(gw, caller=caller, subject=subject, actor=actor, limit=limit, offset=offset)
