"""The `credgraph` Typer application and what every command shares: the consoles,
the one settings object, JSON printing, the caller of a use case, and the CLI's
own wording of core errors (flags for fields, commands for codes).

Commands live in the modules beside this one (``neo4j_cmds``, ``data_cmds``,
``scoring_cmds``); ``main`` imports them and runs the app.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

from credgraph.graph.errors import CredgraphError, UsageError
from credgraph.graph.settings import Settings, load_settings
from credgraph.services.caller import Caller

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

# Piped output is not cut to 80 columns: tables keep their ids whole. No console
# markup: names, ids, paths and messages hold input text ("[bold]", "[/]" or a
# relationship "-[GUARANTEES G1]->") that must print as it is; styles are explicit.
out = Console(width=None if sys.stdout.isatty() else 160, markup=False)
err = Console(stderr=True, soft_wrap=True, markup=False)

# The CLI's words for the fields and codes core errors carry (graph/errors.py).
FIELD_FLAGS: dict[str, str] = {
    "shock": "--shock ID[=FRACTION]",
    "reason": "--reason TEXT (or --resolve to close a dispute)",
    "as_of": "--as-of YYYY-MM-DD",
    "format": "--format",
    "bulk": "--bulk (use `credgraph load` without it: online upserts)",
    "run": "--run (`credgraph runs` lists the runs)",
}
CODE_HINTS: dict[str, str] = {
    "no_run": "run `credgraph propagate`",
    "not_scored": "run `credgraph propagate`",
    "no_such_run": "`credgraph runs` lists them",
    "busy": "loads and propagation runs take turns: run it again once the other writer has ended",
    "unfinished_load": "complete it: load the same input again (`credgraph load PATH`); "
    "or, to score the graph as it is, `credgraph propagate --allow-unfinished-load` "
    "(recorded on the run)",
    "bad_run_id": "run ids look like run-20261130T120000-1a2b3c; `credgraph runs` lists them",
}


def hint_for(exc: CredgraphError) -> str | None:
    """The hint the CLI prints under an error: the core's own, else the CLI's words
    for its code, else the flag of its field."""
    if exc.hint:
        return exc.hint
    if exc.code in CODE_HINTS:
        return CODE_HINTS[exc.code]
    if exc.field and exc.field in FIELD_FLAGS:
        return f"see {FIELD_FLAGS[exc.field]}"
    return None


def styled(head: str, style: str, rest: str = "") -> Text:
    """``head`` in ``style`` followed by plain ``rest``: no markup is parsed."""
    return Text.assemble((head, style), rest)


def settings_of(ctx: typer.Context) -> Settings:
    """The one settings object, read from the environment at the first command that asks."""
    obj = ctx.find_root().obj
    if obj is None:
        obj = load_settings()
        ctx.find_root().obj = obj
    return obj  # type: ignore[no-any-return]


def subject_id(value: str) -> str:
    """A subject id given on the command line: a blank one is a usage error (exit 2),
    not a lookup of '' that finds nothing."""
    if not value.strip():
        raise UsageError("give a subject id (it is empty)", field="subject")
    return value


def caller(actor: str | None = None, reason: str | None = None) -> Caller:
    """The caller of a use case from this command line (actor: the login name)."""
    return Caller.local(actor, reason)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
