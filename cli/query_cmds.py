"""Investigator tools: the library of named queries (`credgraph query`), read-only
ad-hoc Cypher (`credgraph cypher`) and the subject report (`credgraph report`).
Each command parses its options, calls one use case and prints; every one of
them is written to the audit log by the use case."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from credgraph.cli.app import (
    FIELD_FLAGS,
    app,
    caller,
    err,
    out,
    print_json,
    settings_of,
    subject_id,
)
from credgraph.graph.errors import NotFound, UsageError
from credgraph.queries.runner import DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT, QueryResult

FIELD_FLAGS.setdefault("param", "--param NAME=VALUE (`credgraph query --list` shows them)")
FIELD_FLAGS.setdefault("timeout", "--timeout SECONDS")
FIELD_FLAGS.setdefault("max_rows", "--max-rows N")

FORMATS = ("table", "csv", "json")

ReasonOpt = Annotated[
    str | None, typer.Option(help="why you ask (kept in the audit log with who and when)")
]
ActorOpt = Annotated[str | None, typer.Option(help="who asks (default: the login name)")]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", help="time limit in seconds; the server stops the query")
]
MaxRowsOpt = Annotated[int, typer.Option("--max-rows", help="read at most this many rows")]
ParamOpt = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="a parameter, NAME=VALUE (repeat)")
]


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, list):
        return ", ".join(_cell(x) for x in v)
    if isinstance(v, dict):
        return json.dumps(v, ensure_ascii=False, default=str)
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _csv_cell(v: Any) -> str:
    """A value for a CSV file: numbers in full (a float as its shortest exact text,
    ``1234567.89``, not the table's rounded ``1.23457e+06``)."""
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, list):
        return ", ".join(_csv_cell(x) for x in v)
    return _cell(v)


def print_result(res: QueryResult, fmt: str, title: str, extra: dict[str, Any]) -> None:
    """Rows as a table, CSV (lists joined with '; ') or JSON; a cut result is said on stderr."""
    if fmt == "json":
        print_json(extra | res.to_dict())
    elif fmt == "csv":
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(res.columns)
        for row in res.rows:
            w.writerow(
                [
                    "; ".join(_csv_cell(x) for x in v) if isinstance(v, list) else _csv_cell(v)
                    for v in (row.get(c) for c in res.columns)
                ]
            )
    else:
        table = Table(title=title)
        for c in res.columns:
            table.add_column(c, overflow="fold")
        for row in res.rows:
            table.add_row(*(_cell(row.get(c)) for c in res.columns))
        out.print(table)
        out.print(f"{len(res.rows)} row(s)")
    if res.truncated:
        err.print(f"cut at {len(res.rows)} rows (raise --max-rows to see more)")


def _check_format(fmt: str, allowed: tuple[str, ...] = FORMATS) -> None:
    if fmt not in allowed:
        raise UsageError(f"format must be one of {', '.join(allowed)}, not {fmt!r}", field="format")


@app.command("query")
def query_cmd(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="a named query (see --list)")] = None,
    list_: Annotated[bool, typer.Option("--list", help="list the named queries")] = False,
    param: ParamOpt = None,
    fmt: Annotated[
        str,
        typer.Option("--format", help="table, csv or json (with --list: table, json or markdown)"),
    ] = "table",
    favourites: Annotated[
        Path | None,
        typer.Option(
            "--favourites",
            help="write the library as a zip of .cypher files for Neo4j Browser's Favorites",
        ),
    ] = None,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
    max_rows: MaxRowsOpt = DEFAULT_MAX_ROWS,
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
) -> None:
    """Run a named query of the library (queries/*.cypher) with typed parameters.

    `credgraph query --list` lists them with their parameters (type, default,
    range) and columns; docs/queries.md describes each. Parameters are checked
    against the query's header and sent as Cypher parameters, never spliced
    into the text. Every run is written to the audit log (action query:NAME).
    """
    from credgraph.queries.docs import favourites_zip, markdown
    from credgraph.services.queries import describe, list_queries, run_named

    if favourites is not None:
        favourites.write_bytes(favourites_zip(list_queries()))
        err.print(f"wrote {len(list_queries())} favourites to {favourites}")
        return
    if list_ or name is None:
        _check_format(fmt, ("table", "json", "markdown"))
        qs = list_queries()
        if fmt == "json":
            print_json([q.to_dict() for q in qs])
        elif fmt == "markdown":
            sys.stdout.write(markdown(qs))
        else:
            table = Table(title="named queries")
            for c in ("name", "question", "parameters", "columns"):
                table.add_column(c, overflow="fold", no_wrap=c == "name")
            for q in qs:
                table.add_row(
                    q.name,
                    q.question,
                    "\n".join(p.describe() for p in q.params),
                    ", ".join(q.columns),
                )
            out.print(table)
        return
    _check_format(fmt)
    from credgraph.graph.gateway import open_gateway
    from credgraph.queries.library import parse_assignments

    given = parse_assignments(param or [])
    try:
        q = describe(name)  # unknown names fail before connecting
    except NotFound as exc:  # a name the command line gave: a usage error (exit 2)
        raise UsageError(exc.message, hint=exc.hint, code=exc.code, field=exc.field) from None
    with open_gateway(settings_of(ctx)) as gw:
        try:
            res = run_named(
                gw,
                name,
                given,
                caller=caller(actor, reason),
                timeout=timeout,
                max_rows=max_rows,
            )
        except UsageError as exc:
            p = q.param(exc.field or "")
            if p is not None and exc.hint is None:
                # a query's parameter, not the command's option of that name
                # (as_of was hinted "see --as-of", which `query` does not have)
                exc.hint = f"give it as --param {p.name}=VALUE ({p.describe()})"
            raise
    print_result(res, fmt, name, {"query": name, "params": res.params})


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


@app.command("cypher")
def cypher_cmd(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="the Cypher text ('-': read it from stdin)")],
    param: ParamOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
    max_rows: MaxRowsOpt = DEFAULT_MAX_ROWS,
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
) -> None:
    """Ad-hoc read-only Cypher.

    The query is planned first (EXPLAIN) and must be read-only; LOAD CSV,
    CALL { } IN TRANSACTIONS, USE and procedures outside a short allow-list
    (db.labels, db.index.fulltext.queryNodes, ...) are refused. It runs in a
    read transaction that the server stops after --timeout seconds, and at
    most --max-rows rows are read. --param NAME=VALUE sends $NAME (the value
    read as JSON when it parses, else as text). Every query is written to the
    audit log (action cypher, with its text), refused ones too.
    """
    from credgraph.graph.gateway import open_gateway
    from credgraph.services.queries import run_cypher

    _check_format(fmt)
    text = sys.stdin.read() if query == "-" else query
    from credgraph.queries.library import parse_assignments

    params = {k: _json_or_text(v) for k, v in parse_assignments(param or []).items()}
    with open_gateway(settings_of(ctx)) as gw:
        res = run_cypher(
            gw,
            text,
            caller=caller(actor, reason),
            params=params,
            timeout=timeout,
            max_rows=max_rows,
        )
    print_result(res, fmt, "cypher", {"query": text})


@app.command("report")
def report_cmd(
    ctx: typer.Context,
    subject: Annotated[str, typer.Argument(help="subject id")],
    out_file: Annotated[
        Path | None, typer.Option("--out", help="write the HTML here (default: standard output)")
    ] = None,
    with_identifiers: Annotated[
        bool,
        typer.Option(
            "--with-identifiers", help="include personal identifiers (birth date, national id)"
        ),
    ] = False,
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
) -> None:
    """A subject report: one self-contained HTML page (no external assets).

    Identity (personal identifiers only with --with-identifiers), the current
    trust score and risk per domain explained in plain words, the records
    behind it with sources, dates and dispute status, the score across runs
    and a drawing of its neighbourhood. Written to the audit log (action
    report) before anything is read.
    """
    from credgraph.graph.gateway import open_gateway
    from credgraph.services.report import subject_report

    subject = subject_id(subject)  # before connecting: a blank id is a usage error

    with open_gateway(settings_of(ctx)) as gw:
        page = subject_report(
            gw,
            settings_of(ctx),
            subject,
            caller=caller(actor, reason),
            with_identifiers=with_identifiers,
        )
    if out_file is None:
        sys.stdout.write(page)
    else:
        out_file.write_text(page, encoding="utf-8")
        err.print(f"wrote the report of {subject} to {out_file}")
