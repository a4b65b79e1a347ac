"""Subjects: search, one subject, its score with the explanation, its neighbourhood.
Each handler parses the request and calls one use case (credgraph.services)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from credgraph.api.deps import CallerDep, GatewayDep, SettingsDep
from credgraph.api.errors import ERROR_RESPONSES, audited_lookup
from credgraph.api.models import Neighbourhood, Score, Subject, SubjectPage
from credgraph.services import subjects
from credgraph.services.paging import MAX_OFFSET
from credgraph.services.scores import score_lookup

router = APIRouter(prefix="/subjects", tags=["subjects"], responses=ERROR_RESPONSES)

SubjectId = Annotated[str, Path(min_length=1, max_length=200, description="a subject's id")]


@router.get("", response_model=SubjectPage, summary="Search subjects by id, name or alias")
@audited_lookup("search", subject="*")
def search(
    gw: GatewayDep,
    settings: SettingsDep,
    caller: CallerDep,
    q: Annotated[
        str | None,
        Query(max_length=200, description="an id, or words of a name or alias (plain text)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    return subjects.search(gw, settings, q, caller=caller, limit=limit, offset=offset)


@router.get(
    "/{subject_id:path}/score",
    response_model=Score,
    summary="A subject's trust score with its explanation",
)
@audited_lookup("score")
def score(
    gw: GatewayDep,
    settings: SettingsDep,
    caller: CallerDep,
    subject_id: SubjectId,
    run: Annotated[
        str | None, Query(max_length=200, description="a run id (default: current)")
    ] = None,
    top: Annotated[
        int | None, Query(ge=1, le=1000, description="only the top contributions")
    ] = None,
) -> dict[str, Any]:
    return score_lookup(gw, settings, subject_id, caller=caller, run_id=run, top=top)


@router.get(
    "/{subject_id:path}/neighbourhood",
    response_model=Neighbourhood,
    summary="Nodes and edges around a subject, ready to draw",
)
@audited_lookup("neighbourhood")
def neighbourhood(
    gw: GatewayDep,
    settings: SettingsDep,
    caller: CallerDep,
    subject_id: SubjectId,
    depth: Annotated[int, Query(ge=1, le=subjects.MAX_DEPTH)] = 1,
    limit: Annotated[
        int, Query(ge=1, le=subjects.HARD_CAP, description="most nodes, the subject included")
    ] = 100,
    kinds: Annotated[
        list[str] | None,
        Query(description=f"relationship kinds to follow: {', '.join(subjects.EDGE_KINDS)}"),
    ] = None,
) -> dict[str, Any]:
    return subjects.neighbourhood(
        gw, settings, subject_id, caller=caller, depth=depth, limit=limit, kinds=kinds
    )


# Registered last: an id may hold "/" (sent as %2F, which the server decodes), so
# these routes take the rest of the path; "/score" and "/neighbourhood" are matched
# first (an id that itself ends in "/score" cannot be looked up by this route).
@router.get("/{subject_id:path}", response_model=Subject, summary="One subject (redacted by role)")
@audited_lookup("subject")
def subject(
    gw: GatewayDep, settings: SettingsDep, caller: CallerDep, subject_id: SubjectId
) -> dict[str, Any]:
    return subjects.subject_view(gw, settings, subject_id, caller=caller)
