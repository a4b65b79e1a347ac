"""`credgraph neo4j install|start|stop|status`: the managed local Neo4j server."""

from __future__ import annotations

from typing import Annotated

import typer

from credgraph.cli.app import app, err, out, print_json, settings_of

neo4j_app = typer.Typer(
    help="The managed local Neo4j server (jars from Maven Central, no Docker needed).",
    no_args_is_help=True,
)
app.add_typer(neo4j_app, name="neo4j")


@neo4j_app.command("install")
def neo4j_install(ctx: typer.Context) -> None:
    """Resolve the Neo4j Community jars with Maven (once; shared by every home)."""
    from credgraph.graph.managed import ManagedServer

    lib = ManagedServer(settings_of(ctx)).install()
    out.print(f"Neo4j jars ready in {lib}")


@neo4j_app.command("start")
def neo4j_start(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="print the status as JSON")] = False,
    timeout: Annotated[
        float | None,
        typer.Option(
            help="seconds to wait for Bolt (default: CREDGRAPH_START_TIMEOUT, else 120)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Start the managed server under $CREDGRAPH_HOME and wait until Bolt answers.

    A no-op when it is already running. Bolt listens on
    127.0.0.1:$CREDGRAPH_BOLT_PORT (default 7687); the password is generated
    at first start and kept in $CREDGRAPH_HOME/credentials.json (mode 0600).
    """
    from credgraph.graph.managed import ManagedServer

    settings = settings_of(ctx)
    if settings.neo4j_uri:
        err.print(
            f"note: NEO4J_URI is set ({settings.neo4j_uri}); other commands use that server, "
            "not this managed one"
        )
    st = ManagedServer(settings).start(timeout=timeout)
    if json_out:
        print_json(st)
    else:
        state = "already running" if st.get("already_running") else "started"
        out.print(f"Neo4j {st['version']} {state} at {st['uri']} (home {st['home']})")


@neo4j_app.command("stop")
def neo4j_stop(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="print the status as JSON")] = False,
) -> None:
    """Shut the managed server down cleanly and wait for it to exit."""
    from credgraph.graph.managed import ManagedServer

    server = ManagedServer(settings_of(ctx))
    was = server.stop()
    if json_out:
        print_json(server.status() | {"was_running": was})
    else:
        out.print("Neo4j stopped" if was else "Neo4j was not running")


@neo4j_app.command("status")
def neo4j_status(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="print the status as JSON")] = False,
) -> None:
    """Is the managed server running, and where? Exit code 0 either way."""
    from credgraph.graph.managed import ManagedServer

    st = ManagedServer(settings_of(ctx)).status()
    if json_out:
        print_json(st)
        return
    if st["running"]:
        out.print(f"running: pid {st['pid']} at {st['uri']} (home {st['home']})")
    else:
        out.print(f"not running (home {st['home']}, port {st['port']})")
