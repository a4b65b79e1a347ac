"""Batched, idempotent upserts of validated rows into Neo4j, with provenance.

One statement per input file (per role type for roles), each of the shape
``UNWIND $rows AS row MERGE ... `` and run by :meth:`graph.gateway.Gateway.write_batches`
in managed transactions. Every row carries a ``fp`` fingerprint of its values:

- a new node or relationship gets the values, the fingerprint and provenance
  (``source``, ``source_file``, ``source_row``, ``loaded_at``, ``load_id``): created;
- an existing one with the same fingerprint is left untouched, provenance
  included, so loading the same input twice leaves the graph exactly as after
  the first load: unchanged;
- an existing one with another fingerprint gets the new values and provenance:
  updated. Properties that became empty are removed; properties the input does
  not own (``disputed``, set by ``credgraph dispute``) are kept.

A loan and its LENT / BORROWED relationships, a blacklist entry and its
LISTED relationship, are written in the same transaction, so a load killed
half-way leaves no record without its subject; re-running it completes it.
When a row moves a record to another subject (a loan's lender changes, say),
the old relationship is removed.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Any, LiteralString, cast

from graph.model import ROLE_TYPES, rel_type
from loaders.layout import FileSpec
from loaders.validate import ValidRow

_COUNTS: LiteralString = (
    "RETURN count(CASE WHEN old IS NULL THEN 1 END) AS created, "
    "count(CASE WHEN old IS NOT NULL AND old <> row.fp THEN 1 END) AS updated, "
    "count(CASE WHEN old = row.fp THEN 1 END) AS unchanged"
)
_REL_PROV: LiteralString = (
    "source: $source, source_file: row.file, source_row: row.line, "
    "loaded_at: $loaded_at, load_id: $load_id"
)
_PROV: LiteralString = (
    "x.fp = row.fp, x.source = $source, x.source_file = row.file, "
    "x.source_row = row.line, x.loaded_at = $loaded_at, x.load_id = $load_id"
)


def _changed(var: LiteralString) -> LiteralString:
    return cast(
        LiteralString,
        f"FOREACH (_ IN CASE WHEN old IS NULL OR old <> row.fp THEN [1] ELSE [] END | "
        f"SET {var} += row.props, {_PROV.replace('x.', var + '.')})",
    )


STATEMENTS: dict[str, LiteralString] = {
    "persons": (
        "UNWIND $rows AS row "
        "MERGE (x:Subject {id: row.key}) "
        "WITH x, row, x.fp AS old "
        "SET x:Person " + _changed("x") + " " + _COUNTS
    ),
    "firms": (
        "UNWIND $rows AS row "
        "MERGE (x:Subject {id: row.key}) "
        "WITH x, row, x.fp AS old "
        "SET x:Firm " + _changed("x") + " " + _COUNTS
    ),
    "ownership": (
        "UNWIND $rows AS row "
        "MATCH (o:Subject {id: row.props.owner_id}) "
        "MATCH (f:Firm {id: row.props.firm_id}) "
        "MERGE (o)-[x:OWNS]->(f) "
        "WITH x, row, x.fp AS old " + _changed("x") + " " + _COUNTS
    ),
    "loans": (
        "UNWIND $rows AS row "
        "MATCH (lender:Subject {id: row.props.lender_id}) "
        "MATCH (borrower:Subject {id: row.props.borrower_id}) "
        "MERGE (x:Loan {id: row.key}) "
        "WITH x, row, lender, borrower, x.fp AS old "
        + _changed("x")
        + " MERGE (lender)-[r1:LENT]->(x) ON CREATE SET r1 = {"
        + _REL_PROV
        + "} MERGE (borrower)-[r2:BORROWED]->(x) ON CREATE SET r2 = {"
        + _REL_PROV
        + "} "
        "WITH x, row, lender, borrower, old "
        "CALL (x, lender, borrower) { "
        "  OPTIONAL MATCH (s)-[r:LENT|BORROWED]->(x) "
        "  WHERE (type(r) = 'LENT' AND s <> lender) OR (type(r) = 'BORROWED' AND s <> borrower) "
        "  DELETE r } " + _COUNTS
    ),
    "guarantees": (
        "UNWIND $rows AS row "
        "MATCH (g:Subject {id: row.props.guarantor_id}) "
        "MATCH (l:Loan {id: row.props.loan_id}) "
        "CALL (row, g, l) { "
        "  OPTIONAL MATCH (a)-[moved:GUARANTEES {id: row.key}]->(b) "
        "  WHERE a <> g OR b <> l DELETE moved } "
        "MERGE (g)-[x:GUARANTEES {id: row.key}]->(l) "
        "WITH x, row, x.fp AS old " + _changed("x") + " " + _COUNTS
    ),
    "blacklist": (
        "UNWIND $rows AS row "
        "MATCH (s:Subject {id: row.props.subject_id}) "
        "MERGE (x:BlacklistEntry {id: row.key}) "
        "WITH x, row, s, x.fp AS old "
        + _changed("x")
        + " MERGE (s)-[r1:LISTED]->(x) ON CREATE SET r1 = {"
        + _REL_PROV
        + "} "
        "WITH x, row, s, old "
        "CALL (x, s) { OPTIONAL MATCH (o)-[r:LISTED]->(x) WHERE o <> s DELETE r } " + _COUNTS
    ),
}


def role_statement(role: str) -> LiteralString:
    """The upsert for one role type (the type comes from the allow-list)."""
    rtype = rel_type(ROLE_TYPES[role])
    return cast(
        LiteralString,
        "UNWIND $rows AS row "
        "MATCH (p:Person {id: row.props.person_id}) "
        "MATCH (f:Firm {id: row.props.firm_id}) "
        f"MERGE (p)-[x:{rtype}]->(f) "
        "WITH x, row, x.fp AS old " + _changed("x") + " " + _COUNTS,
    )


def _plain(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def fingerprint(values: dict[str, Any]) -> str:
    """A stable digest of a row's values (order-independent), 16 hex digits."""
    text = json.dumps(values, sort_keys=True, default=_plain, ensure_ascii=False)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def to_params(spec: FileSpec, row: ValidRow) -> dict[str, Any]:
    """One ``$rows`` element: key, properties, fingerprint and provenance of a valid row."""
    # Empty values stay in as None: `SET x += row.props` then removes a property that
    # became empty, and leaves properties the input does not own (dispute flags) alone.
    props = {k: v for k, v in row.values.items() if k != "share_unknown"}
    if row.values.get("share_unknown"):
        props["share_unknown"] = True
    elif spec.name == "ownership":
        props["share_unknown"] = None
    if spec.key:
        props[spec.key] = row.key
    # Keep the reference ids as properties too: `row.props.lender_id` routes the MERGE
    # and an investigator sees the ids on the record itself.
    return {
        "key": row.key,
        "props": props,
        "fp": fingerprint(props),
        "file": row.file,
        "line": row.row,
    }
