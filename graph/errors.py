"""The one root exception of credgraph and its families.

The CLI turns any :class:`CredgraphError` into one clear message and an exit
code; the API turns it into one JSON error shape. Anything else is a bug.

Core errors speak of the product, not of an edge: a message names the input
``field`` it is about (``shock``, ``reason``, ``as_of``) and the error carries a
stable ``code`` (``no_run``, ``busy``, ``not_found``); each edge words its own
hint from them (a flag on the CLI, a field over HTTP). A ``hint`` given by the
core is edge-neutral advice that holds everywhere.
"""

from __future__ import annotations


class CredgraphError(Exception):
    """Root of every error credgraph raises on purpose."""

    exit_code = 1
    http_status = 500
    code = "error"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        code: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code
        self.field = field

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class ConfigError(CredgraphError):
    """Bad settings, policy file or environment."""

    code = "config_error"


class ServerError(CredgraphError):
    """The managed Neo4j server could not be installed, started or stopped."""

    code = "server_error"


class DatabaseError(CredgraphError):
    """Neo4j could not be reached or refused a query."""

    code = "database_error"
    http_status = 503


class SchemaError(CredgraphError):
    """The database holds a schema version this code cannot use."""

    code = "schema_error"


class InputError(CredgraphError):
    """Bad input data: names the file, row and field where it can."""

    code = "input_error"
    http_status = 400


class NotFound(CredgraphError):
    code = "not_found"
    http_status = 404


class UsageError(CredgraphError):
    exit_code = 2
    code = "usage_error"
    http_status = 400


class Conflict(CredgraphError):
    """The request clashes with the state of the graph (a record already disputed,
    the writer lease held by another process)."""

    code = "conflict"
    http_status = 409
