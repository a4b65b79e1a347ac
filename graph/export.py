"""Read exactly what the risk engine needs from Neo4j into :data:`graph.projection.Tables`.

Each table is read in a few large pieces: ``collect([...])`` of one partition
of a node label (``id(x) % $parts = $part``; for relationships, of their start
or loan node, so each piece expands only its own share), so the driver decodes one list per piece instead
of one record per row (about six times faster here), and no piece holds more
than ~250,000 rows in the server's heap. Dates come as ISO strings, which
pandas parses exactly; ``disputed`` (loans, blacklist entries) and
``share_unknown`` (ownership) come along. No per-node round trips, and the lists
reach pandas as the driver decodes them (``Gateway.read_values``: no per-value
conversion, a fifth of the client's time of ``Record.data()``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import LiteralString, cast

import pandas as pd

from credgraph.graph.engine.projection import Tables
from credgraph.graph.gateway import Gateway
from credgraph.graph.interrupt import checkpoint, shielded
from credgraph.graph.model import ROLE_TYPES

PIECE_ROWS = 250_000


@dataclass(frozen=True)
class Export:
    count: LiteralString  # how many rows (from the count store where possible)
    piece: LiteralString  # one partition: RETURN collect([...]) AS rows
    columns: tuple[str, ...]


# The role relationship types from the model's allow-list, as one Cypher type union.
_ROLE_TYPES = cast(LiteralString, "|".join(ROLE_TYPES.values()))

EXPORTS: dict[str, Export] = {
    "persons": Export(
        "MATCH (p:Person) RETURN count(p) AS n",
        "MATCH (p:Person) WHERE id(p) % $parts = $part RETURN collect([p.id, p.net_worth]) AS rows",
        ("id", "net_worth"),
    ),
    "firms": Export(
        "MATCH (f:Firm) RETURN count(f) AS n",
        "MATCH (f:Firm) WHERE id(f) % $parts = $part "
        "RETURN collect([f.id, f.equity, f.total_assets, f.status]) AS rows",
        ("id", "equity", "total_assets", "status"),
    ),
    "roles": Export(
        "MATCH ()-[r:" + _ROLE_TYPES + "]->() RETURN count(r) AS n",
        "MATCH (p:Person) WHERE id(p) % $parts = $part "
        "MATCH (p)-[r:" + _ROLE_TYPES + "]->(f:Firm) "
        "RETURN collect([p.id, f.id, r.role, toString(r.since), toString(r.until)]) AS rows",
        ("person_id", "firm_id", "role", "since", "until"),
    ),
    "ownership": Export(
        "MATCH ()-[r:OWNS]->() RETURN count(r) AS n",
        "MATCH (o:Subject) WHERE id(o) % $parts = $part MATCH (o)-[r:OWNS]->(f:Firm) "
        "RETURN collect([o.id, f.id, r.share, coalesce(r.share_unknown, false), "
        "toString(r.since), toString(r.until)]) AS rows",
        ("owner_id", "firm_id", "share", "share_unknown", "since", "until"),
    ),
    "loans": Export(
        "MATCH (l:Loan) RETURN count(l) AS n",
        "MATCH (l:Loan) WHERE id(l) % $parts = $part "
        "MATCH (lender:Subject)-[:LENT]->(l)<-[:BORROWED]-(borrower:Subject) "
        "RETURN collect([l.id, lender.id, borrower.id, l.amount, toString(l.issued_on), "
        "l.status, toString(l.status_on), l.days_overdue, coalesce(l.disputed, false)]) AS rows",
        (
            "id",
            "lender_id",
            "borrower_id",
            "amount",
            "issued_on",
            "status",
            "status_on",
            "days_overdue",
            "disputed",
        ),
    ),
    "guarantees": Export(
        "MATCH ()-[r:GUARANTEES]->() RETURN count(r) AS n",
        "MATCH (l:Loan) WHERE id(l) % $parts = $part MATCH (g:Subject)-[r:GUARANTEES]->(l) "
        "RETURN collect([r.id, g.id, l.id, r.amount, toString(r.since), "
        "toString(r.until)]) AS rows",
        ("id", "guarantor_id", "loan_id", "amount", "since", "until"),
    ),
    "blacklist": Export(
        "MATCH (b:BlacklistEntry) RETURN count(b) AS n",
        "MATCH (b:BlacklistEntry) WHERE id(b) % $parts = $part "
        "MATCH (s:Subject)-[:LISTED]->(b) "
        "RETURN collect([b.id, s.id, b.list, toString(b.listed_on), toString(b.expires_on), "
        "toString(b.delisted_on), b.severity, coalesce(b.disputed, false), "
        "b.listed_on_basis]) AS rows",
        (
            "id",
            "subject_id",
            "list",
            "listed_on",
            "expires_on",
            "delisted_on",
            "severity",
            "disputed",
            "listed_on_basis",
        ),
    ),
}


def export_table(gw: Gateway, spec: Export, piece_rows: int = PIECE_ROWS) -> pd.DataFrame:
    """One table, read in ``ceil(count / piece_rows)`` partitions."""
    n = int(gw.read(spec.count)[0]["n"])
    parts = max(1, math.ceil(n / piece_rows))
    rows: list[list[object]] = []
    for part in range(parts):
        got = gw.read_values(spec.piece, parts=parts, part=part)
        rows.extend(got[0][0] if got else [])
    return pd.DataFrame(rows, columns=list(spec.columns))


def export_tables(gw: Gateway, piece_rows: int = PIECE_ROWS, workers: int = 2) -> Tables:
    """The whole graph as the engine's input tables, ``workers`` reads at a time.

    Each table is read in its own read transaction: the tables are a consistent
    picture of the graph only while no load runs (runs and loads take turns).
    """
    from concurrent.futures import ThreadPoolExecutor, wait

    # Largest tables first, so the two workers finish at about the same time.
    order = ["roles", "ownership", "loans", "firms", "guarantees", "persons", "blacklist"]
    # Shielded, with checkpoints: a stop (graph/interrupt.py) comes between two waits,
    # never inside one, and cancels the tables not yet begun.
    with (
        shielded(),
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="credgraph-export") as ex,
    ):
        futures = {name: ex.submit(export_table, gw, EXPORTS[name], piece_rows) for name in order}
        pending = set(futures.values())
        try:
            while pending:
                checkpoint()
                _, pending = wait(pending, timeout=0.25)
        except BaseException:
            ex.shutdown(wait=True, cancel_futures=True)
            raise
        return {name: futures[name].result() for name in EXPORTS}


def table_counts(tables: Tables) -> dict[str, int]:
    return {name: len(df) for name, df in tables.items()}
