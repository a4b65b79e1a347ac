"""The `credgraph` command line: a thin edge over the use cases (credgraph.services).

Every command reads the one settings object (environment) at the edge, and
every error a command raises on purpose (:class:`credgraph.graph.errors.CredgraphError`)
ends as one line on standard error, a hint in the CLI's words, and the exit code
of the contract: 0 success, 1 error, 2 usage, 3 loaded with rejected rows.
"""

from __future__ import annotations

import os
import sys

import typer

# The command modules register their commands on the app when imported.
from credgraph.cli import (  # noqa: F401
    data_cmds,
    neo4j_cmds,
    query_cmds,
    scheduler_cmds,
    scoring_cmds,
    serve_cmds,
)
from credgraph.cli.app import app, err, hint_for, styled
from credgraph.graph.errors import CredgraphError

__all__ = ["app", "main", "run"]


def main(argv: list[str] | None = None) -> int:
    """Entry point: one clear message and the contract's exit code for every error.

    Usage errors are typer's own (exit 2, with the command's usage line);
    every CredgraphError becomes ``error: message`` (and a hint) on stderr.
    """
    command = typer.main.get_command(app)
    os.umask(0o077)  # what credgraph creates (rejects, staging, run data) is its user's alone
    try:
        command.main(args=argv, prog_name="credgraph", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except CredgraphError as exc:
        err.print(styled("error:", "red", f" {exc.message}"), highlight=False)
        hint = hint_for(exc)
        if hint:
            err.print(f"  hint: {hint}", highlight=False)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except OSError as exc:  # a file the command was told to read or write: name it
        where = f" {exc.filename}" if exc.filename else ""
        what = exc.strerror or str(exc)
        err.print(styled("error:", "red", f" cannot use{where}: {what}"), highlight=False)
        err.print("  hint: check the path (its folder must exist and be writable)")
        return 1
    except Exception as exc:  # a bug: one line, the traceback on request
        if os.environ.get("CREDGRAPH_DEBUG"):
            raise
        err.print(
            styled("internal error:", "red", f" {type(exc).__name__}: {exc}"), highlight=False
        )
        err.print("  hint: set CREDGRAPH_DEBUG=1 to see the traceback, and report it")
        return 1
    return 0


def run() -> None:
    """Console-script wrapper: exit with main()'s code."""
    sys.exit(main())


if __name__ == "__main__":  # python -m credgraph.cli.main
    run()
