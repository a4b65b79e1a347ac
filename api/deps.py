"""What every route shares: the process's gateway and settings, and the caller
behind a request's API key (``X-API-Key`` or ``Authorization: Bearer KEY``, with
an optional ``X-Purpose`` for the audit log)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from credgraph.graph.gateway import Gateway
from credgraph.graph.settings import Settings
from credgraph.services.apikeys import authenticate
from credgraph.services.caller import Caller

api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="an API key (`credgraph apikey create`)"
)
bearer = HTTPBearer(auto_error=False, description="the same API key as a bearer token")


# async: they only read the app's state, so FastAPI calls them in the event loop
# instead of handing each to a worker thread (two thread hops less per request).
async def gateway(request: Request) -> Gateway:
    return request.app.state.gateway  # type: ignore[no-any-return]


async def settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def caller(
    request: Request,
    key: Annotated[str | None, Security(api_key_header)] = None,
    auth: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
) -> Caller:
    """The caller of this request: its key's id and role, and the purpose it gave."""
    return _caller(request, key or (auth.credentials if auth else None))


def caller_of_request(request: Request) -> Caller:
    """The caller behind a request's key, outside FastAPI's dependencies (the error
    handlers use it to audit a lookup refused before its handler ran)."""
    key = request.headers.get("x-api-key")
    if key is None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        key = token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return _caller(request, key)


def _caller(request: Request, presented: str | None) -> Caller:
    found = authenticate(request.app.state.gateway, presented)
    purpose = request.headers.get("x-purpose")
    return found.caller(purpose[:500] if purpose else None)


GatewayDep = Annotated[Gateway, Depends(gateway)]
SettingsDep = Annotated[Settings, Depends(settings)]
CallerDep = Annotated[Caller, Depends(caller)]
