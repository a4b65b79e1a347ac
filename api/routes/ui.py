"""The neighbourhood viewer: ``/ui/subjects/{id}`` serves one static page (the same
for every id, no data in it); its script (api/static/viewer.js) reads the id from
the address and fetches everything through the API with the key the user entered,
kept in the tab's sessionStorage and sent as ``X-API-Key``."""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse

from credgraph.api.errors import ERROR_RESPONSES

router = APIRouter(tags=["viewer"])

PAGE = (FsPath(__file__).resolve().parents[1] / "static" / "viewer.html").read_text(
    encoding="utf-8"
)


@router.get(
    "/ui/subjects/{subject_id:path}",
    response_class=HTMLResponse,
    summary="The neighbourhood viewer (an HTML page; its data requests carry the key)",
    responses={
        200: {"content": {"text/html": {}}, "description": "the viewer page"},
        # JSON, not the page's HTML: spelt out (a "model" would take the route's media type)
        **{
            status: {
                "description": ERROR_RESPONSES[status]["description"],
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}
                },
            }
            for status in (422, 500)
        },
    },
)
def viewer(subject_id: Annotated[str, Path(max_length=200)]) -> HTMLResponse:
    return HTMLResponse(
        PAGE,
        headers={
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
            "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )
