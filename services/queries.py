"""Investigator queries as use cases, shared by the CLI and the HTTP API: the
library of named Cypher queries (``queries/*.cypher``) and read-only ad-hoc Cypher.

Every run is audited like a score lookup (graph/audit.py), before it runs and
also when it is refused or fails: ``action`` is ``query:NAME`` or ``cypher``,
``subject`` the value of the query's subject parameter (``id``, ``firm``,
``lender``, ``entry``; ``from`` and ``to`` give one event each), or
``*`` when it names none (ad-hoc Cypher is always ``*``), ``detail`` the
parameters as checked and typed (``refused: <why>; <as given>`` when they are
refused) or the Cypher text. The role check and the parameter checks
come after the event, so refused lookups are recorded too.
"""

from __future__ import annotations

import json
from typing import Any

from credgraph.graph.errors import UsageError
from credgraph.graph.gateway import Gateway
from credgraph.queries.library import NamedQuery, check_params, get, library
from credgraph.queries.runner import (
    DEFAULT_MAX_ROWS,
    DEFAULT_TIMEOUT,
    QueryResult,
    run_adhoc,
    run_read,
)
from credgraph.services.apikeys import require_role
from credgraph.services.caller import Caller
from credgraph.services.scores import audit


def list_queries() -> list[NamedQuery]:
    """The named queries, by name."""
    return [library()[k] for k in sorted(library())]


def describe(name: str) -> NamedQuery:
    return get(name)


def run_named(
    gw: Gateway,
    name: str,
    params: dict[str, Any],
    *,
    caller: Caller,
    timeout: float = DEFAULT_TIMEOUT,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> QueryResult:
    """Run one named query with ``params`` (text or JSON values, checked against
    its header); the caller needs the investigator role. Audited before the role
    and the parameters are enforced, so a lookup refused for either is on the
    record too; the rows come back with the header's columns."""
    q = get(name)
    problem: UsageError | None = None
    try:
        values = check_params(q, params)  # typed, defaults filled in: what runs
        detail = json.dumps(values, default=str, sort_keys=True)
    except UsageError as exc:
        problem, values = exc, dict(params)
        detail = f"refused: {exc.message}; " + json.dumps(params, default=str, sort_keys=True)
    given = [values.get(p) for p in q.subject_params]
    whom = [str(v)[:500] for v in given if v is not None and str(v).strip()] or ["*"]
    for who in dict.fromkeys(whom):  # both ends of a path; each subject once
        audit(gw, caller, who, f"query:{q.name}", detail=detail[:2000])
    require_role(caller, "investigator")
    if problem is not None:
        raise problem
    res = run_read(gw, q.cypher, values, timeout=timeout, max_rows=max_rows)
    res.columns = list(q.columns)
    res.params = values
    return res


def run_cypher(
    gw: Gateway,
    text: str,
    *,
    caller: Caller,
    params: dict[str, Any] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> QueryResult:
    """Read-only ad-hoc Cypher (queries/runner.py says how it is kept read-only).
    Audited first, refused attempts included."""
    audit(gw, caller, "*", "cypher", detail=text.strip()[:2000])
    return run_adhoc(gw, text, params, timeout=timeout, max_rows=max_rows)
