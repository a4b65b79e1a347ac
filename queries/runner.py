"""Running Cypher for investigators: read transactions with a time limit and a row
cap, and the checks that keep ad-hoc Cypher read-only.

A read session alone does not make a query read-only on a single Community
server (the server runs writes sent in a READ session). So an ad-hoc query is
checked before it runs:

1. on its text (comments and string literals blanked out first): ``LOAD CSV``,
   ``CALL { } IN TRANSACTIONS``, ``USE``, ``TERMINATE TRANSACTIONS`` (query
   type ``r`` on 5.26), ``SHOW`` commands other than indexes, constraints,
   functions and procedures (``SHOW TRANSACTIONS`` shows other sessions'
   queries) and any ``CALL`` of a procedure outside :data:`ALLOWED_PROCEDURES`
   are refused;
2. on its plan: ``EXPLAIN`` (nothing runs) must report query type ``r`` (read
   only; ``rw``, ``w`` and ``s``, schema, are refused), and the plan's operators
   are checked again for CSV loading, transactions in batches and procedure calls;
3. it then runs in a READ transaction with a server-side time limit
   (:func:`neo4j.Session.begin_transaction` ``timeout``), and at most ``max_rows``
   rows are read (the rest is reported as cut, never fetched).

A syntax error or a refusal is one line (:class:`QueryRefused`,
:class:`CypherSyntax`); the time limit is :class:`QueryTimeout`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, LiteralString, cast

from neo4j import exceptions as nx
from neo4j.graph import Node, Path, Relationship
from neo4j.time import Date, DateTime, Duration, Time

from credgraph.graph.errors import CredgraphError, DatabaseError, UsageError
from credgraph.graph.gateway import Gateway, translate_errors

# Read-only procedures an investigator may CALL in ad-hoc Cypher.
ALLOWED_PROCEDURES: frozenset[str] = frozenset(
    {
        "db.labels",
        "db.relationshiptypes",
        "db.propertykeys",
        "db.schema.visualization",
        "db.schema.nodetypeproperties",
        "db.schema.reltypeproperties",
        "db.index.fulltext.querynodes",
        "db.index.fulltext.queryrelationships",
        "dbms.components",
    }
)
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_ROWS = 10_000
MAX_TEXT = 20_000


class QueryRefused(UsageError):
    """Ad-hoc Cypher that is not read-only, or uses what the allow-list keeps out."""

    code = "query_refused"
    http_status = 403


class CypherSyntax(UsageError):
    code = "cypher_syntax"


class QueryTimeout(CredgraphError):
    code = "query_timeout"
    http_status = 408


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[dict[str, Any]]
    truncated: bool = False
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "rows": self.rows, "truncated": self.truncated}


# ---------------------------------------------------------------- text checks
_TOKEN = re.compile(
    r"""//[^\n]*|/\*.*?\*/|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`(?:[^`]|``)*`""",
    re.S,
)


def blank_literals(text: str) -> str:
    """The text with comments and string literals blanked (``''``) and backticked
    names unquoted, so keyword checks see only the query's own words."""

    def sub(m: re.Match[str]) -> str:
        t = m.group(0)
        if t.startswith("`"):
            return t[1:-1].replace("``", "`")
        if t.startswith(("//", "/*")):
            return " "
        return "''"

    return _TOKEN.sub(sub, text)


_LOAD_CSV = re.compile(r"\bLOAD\s+CSV\b", re.I)
_IN_TX = re.compile(r"\bIN\s+(?:\d+\s+)?(?:CONCURRENT\s+)?TRANSACTIONS\b", re.I)
_USE = re.compile(r"(?:^|[\s{])USE\s+[A-Za-z_`]", re.I)
_TERMINATE = re.compile(r"\bTERMINATE\s+TRANSACTIONS?\b", re.I)
_SHOW = re.compile(
    r"^\s*SHOW\s+(?:ALL\s+|RANGE\s+|TEXT\s+|POINT\s+|FULLTEXT\s+|VECTOR\s+|LOOKUP\s+|UNIQUE\s+|EXISTENCE\s+|KEY\s+|NODE\s+|RELATIONSHIP\s+|BUILT\s+IN\s+|USER\s+DEFINED\s+)*(\w+)",
    re.I,
)
# SHOW commands that only describe the database's own schema and functions
ALLOWED_SHOW = frozenset(
    {
        "index",
        "indexes",
        "constraint",
        "constraints",
        "function",
        "functions",
        "procedure",
        "procedures",
    }
)
_CALL = re.compile(r"\bCALL\s+([A-Za-z_][\w.]*)\s*(?=[(\s]|$)", re.I)


def check_text(text: str) -> None:
    """Refuse LOAD CSV, CALL { } IN TRANSACTIONS and procedures outside the allow-list."""
    if not text.strip():
        raise UsageError("the query is empty", field="query")
    if len(text) > MAX_TEXT:
        raise UsageError(f"the query is longer than {MAX_TEXT} characters", field="query")
    words = blank_literals(text)
    if _LOAD_CSV.search(words):
        raise QueryRefused("refused: LOAD CSV is not allowed in ad-hoc Cypher")
    if _IN_TX.search(words):
        raise QueryRefused("refused: CALL { } IN TRANSACTIONS is not allowed in ad-hoc Cypher")
    if _USE.search(words):
        raise QueryRefused(
            "refused: USE is not allowed; ad-hoc Cypher reads the configured database"
        )
    if _TERMINATE.search(words):
        raise QueryRefused("refused: TERMINATE TRANSACTIONS is not allowed in ad-hoc Cypher")
    show = _SHOW.match(words)
    if show and show.group(1).lower() not in ALLOWED_SHOW:
        raise QueryRefused(
            f"refused: SHOW {show.group(1).upper()} is not allowed in ad-hoc Cypher",
            hint="allowed: SHOW INDEXES, CONSTRAINTS, FUNCTIONS, PROCEDURES",
        )
    for m in _CALL.finditer(words):
        name = m.group(1)
        if name.lower() not in ALLOWED_PROCEDURES:
            raise QueryRefused(
                f"refused: procedure {name} is not on the allow-list",
                hint="allowed: " + ", ".join(sorted(ALLOWED_PROCEDURES)),
            )


# ---------------------------------------------------------------- plan checks
_BAD_OPERATORS = {
    "loadcsv": "LOAD CSV",
    "transactionforeach": "CALL { } IN TRANSACTIONS",
    "transactionapply": "CALL { } IN TRANSACTIONS",
    "terminatetransactions": "TERMINATE TRANSACTIONS",
    "showtransactions": "SHOW TRANSACTIONS",
    "showsettings": "SHOW SETTINGS",
}


def _operators(plan: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not plan:
        return []
    out = [plan]
    for child in plan.get("children") or []:
        out.extend(_operators(child))
    return out


def check_plan(query_type: str | None, plan: dict[str, Any] | None) -> None:
    """Only read-only plans (query type ``r``) without CSV loading, batched
    transactions or procedures outside the allow-list."""
    if query_type != "r":
        kind = {
            "rw": "reads and writes",
            "w": "writes",
            "s": "changes the schema or administers the server",
        }.get(query_type or "", f"is of type {query_type!r}")
        raise QueryRefused(f"refused: the query {kind}; ad-hoc Cypher must be read-only")
    for op in _operators(plan):
        name = str(op.get("operatorType", "")).split("@")[0].lower()
        if name in _BAD_OPERATORS:
            raise QueryRefused(f"refused: {_BAD_OPERATORS[name]} is not allowed in ad-hoc Cypher")
        if "procedurecall" in name:
            details = str((op.get("args") or {}).get("Details", ""))
            proc = details.split("(")[0].strip().lower()
            if proc not in ALLOWED_PROCEDURES:
                raise QueryRefused(f"refused: procedure {proc or '?'} is not on the allow-list")


def one_line(exc: nx.Neo4jError) -> str:
    """A server error's message as one line (the first, without the caret drawing)."""
    msg = (exc.message or str(exc)).strip().splitlines()
    return msg[0].strip() if msg else (exc.code or "error")


def _timed_out(exc: nx.Neo4jError) -> bool:
    code = exc.code or ""
    return "TimedOut" in code or "Transaction.Terminated" in code or "Terminated" in code


# ---------------------------------------------------------------- values
def plain(value: Any) -> Any:
    """A result value as JSON-ready Python: nodes and relationships as their
    properties with ``_labels``/``_type``, paths as alternating lists, temporal
    values as ISO text."""
    if isinstance(value, Node):
        return {"_labels": sorted(value.labels), **{k: plain(v) for k, v in value.items()}}
    if isinstance(value, Relationship):
        return {"_type": value.type, **{k: plain(v) for k, v in value.items()}}
    if isinstance(value, Path):
        out: list[Any] = [plain(value.start_node)]
        for rel in value.relationships:
            out.append(plain(rel))
            out.append(plain(rel.end_node))
        return out
    if isinstance(value, Date | DateTime | Time):
        try:
            return value.to_native().isoformat()
        except (ValueError, OverflowError):  # beyond Python's range, or nanoseconds
            return value.iso_format()
    if isinstance(value, Duration):
        return str(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


# ---------------------------------------------------------------- running
def explain(gw: Gateway, text: str, params: dict[str, Any]) -> tuple[str | None, Any]:
    """The query type and plan of ``EXPLAIN text`` (nothing is executed)."""
    try:
        with translate_errors(), gw.session(read_only=True) as s:
            with s.begin_transaction(timeout=10) as tx:
                summary = tx.run(cast(LiteralString, "EXPLAIN " + text), params).consume()
                tx.rollback()
    except CredgraphError as exc:
        cause = exc.__cause__
        if isinstance(cause, nx.Neo4jError):
            _raise_neo4j(cause)
        raise
    return summary.query_type, summary.plan


def _raise_neo4j(exc: nx.Neo4jError) -> None:
    if isinstance(exc, nx.CypherSyntaxError) or "SyntaxError" in (exc.code or ""):
        raise CypherSyntax(f"syntax error: {one_line(exc)}", field="query") from None
    if _timed_out(exc):
        raise QueryTimeout("the query ran past its time limit and was stopped") from None
    if isinstance(exc, nx.ClientError):
        raise UsageError(f"Neo4j refused the query: {one_line(exc)}", field="query") from None
    # Not the caller's mistake and not a timeout: the database's own failure, in the
    # error shape as database_error (was the root error's bare 500 "error").
    raise DatabaseError(f"Neo4j could not run the query: {one_line(exc)}") from None


def run_read(
    gw: Gateway,
    text: str,
    params: dict[str, Any] | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_rows: int = DEFAULT_MAX_ROWS,
    columns: list[str] | None = None,
) -> QueryResult:
    """Run ``text`` in one READ transaction stopped by the server after ``timeout``
    seconds; read at most ``max_rows`` rows (``truncated`` says more were there)."""
    if timeout <= 0:
        raise UsageError("the time limit must be more than 0 seconds", field="timeout")
    if max_rows < 1:
        raise UsageError("the row cap must be at least 1", field="max_rows")
    rows: list[dict[str, Any]] = []
    truncated = False
    keys: list[str] = list(columns or [])
    try:
        with translate_errors(), gw.session(read_only=True) as s:
            with s.begin_transaction(timeout=timeout) as tx:
                result = tx.run(cast(LiteralString, text), params or {})
                keys = list(result.keys())
                for rec in result:
                    if len(rows) >= max_rows:
                        truncated = True
                        break
                    rows.append({k: plain(v) for k, v in rec.items()})
                tx.rollback()
    except CredgraphError as exc:
        cause = exc.__cause__
        if isinstance(cause, nx.Neo4jError):
            _raise_neo4j(cause)
        raise
    return QueryResult(columns=keys, rows=rows, truncated=truncated)


def run_adhoc(
    gw: Gateway,
    text: str,
    params: dict[str, Any] | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> QueryResult:
    """Ad-hoc Cypher, read-only by the checks above; refusals raise QueryRefused."""
    text = text.strip().rstrip(";").strip()
    check_text(text)
    if re.match(r"(?i)\s*(EXPLAIN|PROFILE)\b", blank_literals(text)):
        raise QueryRefused("refused: send the query without EXPLAIN or PROFILE")
    query_type, plan = explain(gw, text, params or {})
    check_plan(query_type, plan)
    return run_read(gw, text, params, timeout=timeout, max_rows=max_rows)
