"""The `credgraph` command line.

Every command reads the one settings object (environment) at the edge, and
every error a command raises on purpose (:class:`graph.errors.CredgraphError`)
ends as one line on standard error and the exit code of the contract:
0 success, 1 error, 2 usage, 3 loaded with rejected rows.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from graph.errors import CredgraphError, UsageError
from graph.settings import Settings, load_settings

app = typer.Typer(
    name="credgraph",
    help=(
        "Trust-network analyser for credit and compliance investigators.\n\n"
        "Loads people, firms, loans, guarantees and blacklist entries into Neo4j, "
        "propagates risk along guarantees, lending, ownership and control, and "
        "explains every networked trust score.\n\n"
        "Connection: NEO4J_URI, NEO4J_USERNAME, NEO4J_PASSWORD, NEO4J_DATABASE; "
        "without NEO4J_URI the managed local server under $CREDGRAPH_HOME is used "
        "(start it with `credgraph neo4j start`)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
neo4j_app = typer.Typer(
    help="The managed local Neo4j server (jars from Maven Central, no Docker needed).",
    no_args_is_help=True,
)
app.add_typer(neo4j_app, name="neo4j")

out = Console()
err = Console(stderr=True, soft_wrap=True)


def settings_of(ctx: typer.Context) -> Settings:
    obj = ctx.find_root().obj
    if obj is None:
        obj = load_settings()
        ctx.find_root().obj = obj
    return obj  # type: ignore[no-any-return]


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


# --------------------------------------------------------------------- neo4j
@neo4j_app.command("install")
def neo4j_install(ctx: typer.Context) -> None:
    """Resolve the Neo4j Community jars with Maven (once; shared by every home)."""
    from graph.managed import ManagedServer

    lib = ManagedServer(settings_of(ctx)).install()
    out.print(f"Neo4j jars ready in {lib}")


@neo4j_app.command("start")
def neo4j_start(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="print the status as JSON")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait for Bolt")] = 120.0,
) -> None:
    """Start the managed server under $CREDGRAPH_HOME and wait until Bolt answers.

    A no-op when it is already running. Bolt listens on
    127.0.0.1:$CREDGRAPH_BOLT_PORT (default 7687); the password is generated
    at first start and kept in $CREDGRAPH_HOME/credentials.json (mode 0600).
    """
    from graph.managed import ManagedServer

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
    from graph.managed import ManagedServer

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
    from graph.managed import ManagedServer

    st = ManagedServer(settings_of(ctx)).status()
    if json_out:
        print_json(st)
        return
    if st["running"]:
        out.print(f"running: pid {st['pid']} at {st['uri']} (home {st['home']})")
    else:
        out.print(f"not running (home {st['home']}, port {st['port']})")


# -------------------------------------------------------------------- schema
@app.command("schema")
def schema_cmd(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create or migrate constraints and indexes (idempotent) and print the version."""
    from graph.gateway import open_gateway
    from graph.schema import ensure_schema

    with open_gateway(settings_of(ctx)) as gw:
        res = ensure_schema(gw)
    if json_out:
        print_json(res)
    else:
        out.print(f"schema at version {res['to']} (was {res['from']})")


# ------------------------------------------------------------------ generate
@app.command("generate")
def generate_cmd(
    output: Annotated[Path, typer.Argument(help="folder to write the input files into")],
    scale: Annotated[int, typer.Option("--scale", help="number of subjects (persons + firms)")],
    seed: Annotated[int, typer.Option("--seed", help="random seed; same seed, same bytes")] = 1,
    parquet: Annotated[
        bool, typer.Option("--parquet", help="write Parquet instead of CSV")
    ] = False,
) -> None:
    """Write synthetic data in the input layout: a lending market of SCALE subjects."""
    from loaders.generate import generate

    counts = generate(output, scale, seed, "parquet" if parquet else "csv")
    table = Table(title=f"generated in {output}")
    table.add_column("file")
    table.add_column("rows", justify="right")
    for name, n in counts.items():
        table.add_row(name, f"{n:,}")
    out.print(table)


# ---------------------------------------------------------------------- load
def run_load(
    settings: Settings,
    path: Path,
    *,
    source: str | None,
    fmt: str | None,
    strict: bool,
    rejects: Path | None,
    show: bool = True,
) -> Any:
    """Load with a progress bar (rows per second) on a terminal; returns the LoadReport."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from graph.gateway import open_gateway
    from loaders.load import load

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} rows"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    tasks: dict[str, Any] = {}

    def on_rows(file: str, n: int) -> None:
        if file not in tasks:
            tasks[file] = progress.add_task(file, total=None, rate="")
        progress.advance(tasks[file], n)
        t = progress.tasks[tasks[file]]
        if t.elapsed:
            progress.update(tasks[file], rate=f"{t.completed / t.elapsed:,.0f} rows/s")

    with open_gateway(settings) as gw, progress:
        report = load(
            gw,
            path,
            source=source,
            fmt=fmt,  # type: ignore[arg-type]
            strict=strict,
            rejects_path=rejects,
            on_rows=on_rows,
        )
    if show:
        table = Table(title=f"load {report.load_id} ({report.source})")
        for col in ("file", "read", "created", "updated", "unchanged", "rejected"):
            if col == "file":
                table.add_column(col, overflow="fold")
            else:
                table.add_column(col, justify="right")
        for f in report.files:
            table.add_row(
                f.file,
                f"{f.read:,}",
                f"{f.created:,}",
                f"{f.updated:,}",
                f"{f.unchanged:,}",
                f"[red]{f.rejected:,}[/]" if f.rejected else "0",
            )
        out.print(table)
        for note in report.notes:
            out.print(f"note: {note}")
        if report.rejects_path:
            out.print(f"{report.rejected:,} rejected row(s) written to {report.rejects_path}")
    return report


@app.command("load")
def load_cmd(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="a folder in the input layout, or an FtM file")],
    source: Annotated[
        str | None, typer.Option(help="source name kept as provenance (default: folder name)")
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="csv, parquet or ftm (default: detect)"),
    ] = None,
    strict: Annotated[
        bool, typer.Option(help="refuse the whole load (exit 1) if any row is rejected")
    ] = False,
    rejects: Annotated[
        Path | None, typer.Option(help="rejects CSV (default: <load id>.rejects.csv)")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the load report as JSON")] = False,
) -> None:
    """Load input files into the graph: validated, idempotent, with provenance.

    Every row is checked (required columns, types, dates, enums, ranges,
    references); a rejected row goes to the rejects file with its file, row,
    column and reason, and the rest still loads. Exit code 3 when rows were
    rejected; with --strict nothing is written and the code is 1. Loading the
    same input twice leaves the graph as after the first load.
    """
    if fmt not in (None, "csv", "parquet", "ftm"):
        raise UsageError(f"--format must be csv, parquet or ftm, not {fmt!r}")
    report = run_load(
        settings_of(ctx),
        path,
        source=source,
        fmt=fmt,
        strict=strict,
        rejects=rejects,
        show=not json_out,
    )
    if json_out:
        print_json(report.as_dict())
    if report.rejected:
        raise typer.Exit(3)


# ---------------------------------------------------------------------- demo
@app.command("demo")
def demo_cmd(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--out", help="folder for the generated sample")] = Path(
        "sample"
    ),
    scale: Annotated[int, typer.Option(help="subjects in the sample")] = 2000,
    seed: Annotated[int, typer.Option(help="random seed")] = 7,
) -> None:
    """The main job end to end: Neo4j, sample data, schema, load, propagate, summary.

    Starts the managed server (unless NEO4J_URI is set), generates SCALE
    subjects into --out, creates the schema and loads the sample.
    """
    from graph.gateway import open_gateway
    from graph.managed import ManagedServer
    from graph.schema import ensure_schema
    from loaders.generate import generate

    settings = settings_of(ctx)
    if settings.managed:
        st = ManagedServer(settings).start()
        out.print(f"[bold]1. Neo4j[/] {st['version']} at {st['uri']} (home {st['home']})")
    else:
        out.print(f"[bold]1. Neo4j[/] at NEO4J_URI={settings.neo4j_uri}")
    counts = generate(output, scale, seed, "csv")
    out.print(
        f"[bold]2. Generated[/] {scale:,} subjects into {output}: "
        + ", ".join(f"{k} {v:,}" for k, v in counts.items())
    )
    with open_gateway(settings) as gw:
        res = ensure_schema(gw)
    out.print(f"[bold]3. Schema[/] at version {res['to']} (was {res['from']})")
    report = run_load(
        settings,
        output,
        source=f"sample-{seed}",
        fmt="csv",
        strict=False,
        rejects=output / "rejects.csv",
        show=False,
    )
    out.print(
        f"[bold]4. Loaded[/] {report.written:,} rows ({report.rejected:,} rejected), "
        f"load {report.load_id}"
    )


# ---------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    """Entry point: one clear message and the contract's exit code for every error.

    Usage errors are typer's own (exit 2, with the command's usage line);
    every CredgraphError becomes ``error: message`` (and a hint) on stderr.
    """
    command = typer.main.get_command(app)
    try:
        command.main(args=argv, prog_name="credgraph", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except CredgraphError as exc:
        err.print(f"[red]error:[/] {exc.message}", highlight=False)
        if exc.hint:
            err.print(f"  hint: {exc.hint}", highlight=False)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    return 0


def run() -> None:
    """Console-script wrapper: exit with main()'s code."""
    sys.exit(main())


if __name__ == "__main__":  # python -m cli.main
    run()
