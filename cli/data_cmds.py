"""`credgraph schema`, `generate` and `load`: getting data into the graph."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from credgraph.cli.app import app, err, out, print_json, settings_of
from credgraph.graph.settings import Settings


# -------------------------------------------------------------------- schema
@app.command("schema")
def schema_cmd(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create or migrate constraints and indexes (idempotent) and print the version."""
    from credgraph.graph.gateway import open_gateway
    from credgraph.graph.schema import ensure_schema

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
    from credgraph.loaders.generate import generate

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
    bulk: bool = False,
) -> Any:
    """Load with a progress bar (rows per second) on a terminal; returns the LoadReport."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("{task.description}", markup=False),
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

    from credgraph.services.loading import load_input

    with progress:
        report = load_input(
            settings,
            path,
            source=source,
            fmt=fmt,
            strict=strict,
            rejects=rejects,
            bulk=bulk,
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
                Text(f"{f.rejected:,}", style="red") if f.rejected else "0",
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
    bulk: Annotated[
        bool,
        typer.Option(
            help="first load into an EMPTY managed database with neo4j-admin import "
            "(stops and restarts the server)"
        ),
    ] = False,
) -> None:
    """Load input files into the graph: validated, idempotent, with provenance.

    Every row is checked (required columns, types, dates, enums, ranges,
    references); a rejected row goes to the rejects file with its file, row,
    column and reason, and the rest still loads. Exit code 3 when rows were
    rejected; with --strict nothing is written and the code is 1. Loading the
    same input twice leaves the graph as after the first load. While another
    load or a propagation run works on the graph, the load is refused (code 1).
    """
    report = run_load(
        settings_of(ctx),
        path,
        source=source,
        fmt=fmt,
        strict=strict,
        rejects=rejects,
        show=not json_out,
        bulk=bulk,
    )
    if json_out:
        print_json(report.as_dict())
    if report.rejected:
        raise typer.Exit(3)
