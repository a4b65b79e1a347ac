"""Read exactly what the risk engine needs from Neo4j into :data:`graph.projection.Tables`.

One streaming read per input file; each returns the layout columns the
projection uses (dates as ISO strings, so pandas parses them exactly), plus
``disputed`` on loans and blacklist entries and ``share_unknown`` on
ownership. Columns are gathered into lists while the records stream, then
turned into one DataFrame per table: no per-node round trips.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, LiteralString

import pandas as pd

from graph.gateway import Gateway
from graph.projection import Tables

EXPORTS: dict[str, LiteralString] = {
    "persons": "MATCH (p:Person) RETURN p.id AS id, p.net_worth AS net_worth",
    "firms": (
        "MATCH (f:Firm) RETURN f.id AS id, f.equity AS equity, "
        "f.total_assets AS total_assets, f.status AS status"
    ),
    "roles": (
        "MATCH (p:Person)-[r:LEGAL_REPRESENTATIVE_OF|DIRECTOR_OF|EXECUTIVE_OF|SUPERVISOR_OF]"
        "->(f:Firm) RETURN p.id AS person_id, f.id AS firm_id, r.role AS role, "
        "toString(r.since) AS since, toString(r.until) AS until"
    ),
    "ownership": (
        "MATCH (o:Subject)-[r:OWNS]->(f:Firm) RETURN o.id AS owner_id, f.id AS firm_id, "
        "r.share AS share, coalesce(r.share_unknown, false) AS share_unknown, "
        "toString(r.since) AS since, toString(r.until) AS until"
    ),
    "loans": (
        "MATCH (lender:Subject)-[:LENT]->(l:Loan)<-[:BORROWED]-(borrower:Subject) "
        "RETURN l.id AS id, lender.id AS lender_id, borrower.id AS borrower_id, "
        "l.amount AS amount, toString(l.issued_on) AS issued_on, l.status AS status, "
        "toString(l.status_on) AS status_on, l.days_overdue AS days_overdue, "
        "coalesce(l.disputed, false) AS disputed"
    ),
    "guarantees": (
        "MATCH (g:Subject)-[r:GUARANTEES]->(l:Loan) RETURN r.id AS id, g.id AS guarantor_id, "
        "l.id AS loan_id, r.amount AS amount, toString(r.since) AS since, "
        "toString(r.until) AS until"
    ),
    "blacklist": (
        "MATCH (s:Subject)-[:LISTED]->(b:BlacklistEntry) RETURN b.id AS id, "
        "s.id AS subject_id, b.list AS list, toString(b.listed_on) AS listed_on, "
        "toString(b.expires_on) AS expires_on, toString(b.delisted_on) AS delisted_on, "
        "b.severity AS severity, coalesce(b.disputed, false) AS disputed"
    ),
}


def _columns(records: Iterator[Any]) -> pd.DataFrame:
    keys: list[str] | None = None
    cols: list[list[Any]] = []
    for rec in records:
        if keys is None:
            keys = list(rec.keys())
            cols = [[] for _ in keys]
        for col, value in zip(cols, rec.values(), strict=True):
            col.append(value)
    if keys is None:
        return pd.DataFrame()
    return pd.DataFrame(dict(zip(keys, cols, strict=True)))


def export_tables(gw: Gateway) -> Tables:
    """The whole graph as the engine's input tables (one streaming read per table)."""
    return {name: gw.read_stream(query, _columns) for name, query in EXPORTS.items()}


def table_counts(tables: Tables) -> dict[str, int]:
    return {name: len(df) for name, df in tables.items()}
