"""Investigator queries as use cases, shared by the CLI and the HTTP API: the
library of named Cypher queries (``queries/*.cypher``) and read-only ad-hoc Cypher.

Every run is audited like a score lookup (graph/audit.py), before it runs and
also when it is refused or fails: ``action`` is ``query:NAME`` or ``cypher``,
``subject`` the value of the query's subject parameter (``id``, ``firm``,
``lender``, ``entry``; ``from`` and ``to`` give one event each), or
``*`` when it names none (ad-hoc Cypher is always ``*``), ``detail`` the
parameters as checked and typed (``refused: <why>; <as given>`` when they are
refused) or the Cypher text; once a named query has run, its ``detail`` also
holds ``shown``: the ids of the subjects its rows name. The role check and the parameter checks
come after the event, so refused lookups are recorded too.
"""

from __future__ import annotations

import json
from typing import Any

from credgraph.graph.audit import record_shown
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
    events = [  # both ends of a path; each subject once
        audit(gw, caller, who, f"query:{q.name}", detail=detail[:2000])["id"]
        for who in dict.fromkeys(whom)
    ]
    require_role(caller, "investigator")
    if problem is not None:
        raise problem
    res = run_read(gw, q.cypher, values, timeout=timeout, max_rows=max_rows)
    res.columns = list(q.columns)
    res.params = values
    # Whom the rows show: a query's rows name subjects besides its parameter (the
    # owners, the guarantors, the most systemic subjects), and the log says whom the
    # caller saw, as a search's and a neighbourhood's do.
    shown = subjects_in(gw, res.rows)
    record_shown(gw, events, json.dumps(values | {"shown": shown}, default=str, sort_keys=True))
    return res


def subjects_in(gw: Gateway, rows: list[dict[str, Any]]) -> list[str]:
    """The ids of the subjects a query's rows name (any text value, also inside lists
    and maps, that is a subject's id), in the order they first appear."""
    texts: dict[str, None] = {}

    def walk(value: Any) -> None:
        if isinstance(value, str):
            texts.setdefault(value)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)

    for row in rows:
        walk(row)
    if not texts:
        return []
    found = {
        r["id"]
        for r in gw.read(
            "UNWIND $ids AS id MATCH (s:Subject {id: id}) RETURN s.id AS id", ids=list(texts)
        )
    }
    return [t for t in texts if t in found]


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
