"""The HTTP API (`credgraph serve`) and its API keys (`credgraph apikey create|list|revoke`)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from credgraph.cli.app import app, err, out, print_json, settings_of

apikey_app = typer.Typer(
    help="API keys of the HTTP API: create (shown once), list, revoke.", no_args_is_help=True
)
app.add_typer(apikey_app, name="apikey")


@app.command("serve")
def serve_cmd(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="worker processes (one driver each)", min=1)] = 1,
) -> None:
    """The HTTP API and the neighbourhood viewer (/ui/subjects/ID); OpenAPI at /openapi.json.

    Every route but /health needs an API key (`credgraph apikey create`), /openapi.json
    too; there are no /docs or /redoc pages (docs/api.md).
    """
    import uvicorn

    from credgraph.api.app import create_app

    settings = settings_of(ctx)
    if workers > 1:
        # Each worker process builds its own app (and driver) from the environment.
        uvicorn.run(
            "credgraph.api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            proxy_headers=False,
        )
        return
    uvicorn.run(create_app(settings), host=host, port=port, proxy_headers=False)


@apikey_app.command("create")
def apikey_create(
    ctx: typer.Context,
    role: Annotated[str, typer.Option(help="viewer, investigator or admin")],
    name: Annotated[str | None, typer.Option(help="what the key is for (shown in lists)")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create a key and print it once: only its hash is stored."""
    from credgraph.graph.gateway import open_gateway
    from credgraph.services.apikeys import check_role, create_key

    check_role(role)
    with open_gateway(settings_of(ctx)) as gw:
        record, key = create_key(gw, role, name)
    if json_out:
        print_json({"id": record.id, "role": record.role, "name": record.name, "key": key})
        return
    out.print(key)
    err.print(f"key {record.id} ({record.role}) created; it is shown only this once")


@apikey_app.command("list")
def apikey_list(
    ctx: typer.Context, json_out: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Every key's id, role, name, creation and revocation time (never the key)."""
    from credgraph.graph.gateway import open_gateway
    from credgraph.services.apikeys import list_keys

    with open_gateway(settings_of(ctx)) as gw:
        keys = list_keys(gw)
    if json_out:
        print_json(keys)
        return
    table = Table(title="API keys")
    for col in ("id", "role", "name", "created", "revoked"):
        table.add_column(col, no_wrap=col == "id")
    for k in keys:
        table.add_row(k["id"], k["role"], k["name"] or "", k["created_at"], k["revoked_at"] or "")
    out.print(table)


@apikey_app.command("revoke")
def apikey_revoke(
    ctx: typer.Context, key_id: Annotated[str, typer.Argument(help="the key's id")]
) -> None:
    """Revoke a key: refused from the next request on."""
    from credgraph.graph.gateway import open_gateway
    from credgraph.services.apikeys import revoke_key

    with open_gateway(settings_of(ctx)) as gw:
        row = revoke_key(gw, key_id)
    out.print(f"key {row['id']} ({row['role']}) revoked at {row['revoked_at']}")
