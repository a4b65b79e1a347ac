"""Batched, idempotent upserts of validated rows into Neo4j, with provenance.

:func:`write_rows` takes one batch of one input file. It first asks which of
the batch's keys exist and with which fingerprint (one read), then writes the
new rows with a ``CREATE`` statement, the changed rows with a ``MERGE``
statement, and leaves the unchanged rows alone, all in one managed transaction
(so a retry after a lost commit answer re-reads what exists); every statement is of the
shape ``UNWIND $rows AS row ...`` and runs in a managed transaction. Loads run
one at a time (a concurrent load of the same new keys could collide on the
lookup-then-create; node keys are protected by constraints, relationships are
not). Every row carries a ``fp`` fingerprint of its values:

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
from typing import Any, LiteralString, cast

from graph.gateway import Gateway
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


def fingerprint(values: dict[str, Any]) -> str:
    """A stable digest of a row's values (independent of key order), 16 hex digits.

    ``repr`` of the sorted items: values are None, str, int, float, bool, date or
    lists of str, whose reprs are deterministic across runs and machines.
    """
    return hashlib.blake2b(repr(sorted(values.items())).encode(), digest_size=8).hexdigest()


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


# -- lookups: which keys exist, with which fingerprint --------------------------------
LOOKUPS: dict[str, LiteralString] = {
    "persons": "UNWIND $rows AS row MATCH (x:Subject {id: row.key}) RETURN row.key AS key, x.fp AS fp",
    "firms": "UNWIND $rows AS row MATCH (x:Subject {id: row.key}) RETURN row.key AS key, x.fp AS fp",
    "loans": "UNWIND $rows AS row MATCH (x:Loan {id: row.key}) RETURN row.key AS key, x.fp AS fp",
    "blacklist": (
        "UNWIND $rows AS row MATCH (x:BlacklistEntry {id: row.key}) "
        "RETURN row.key AS key, x.fp AS fp"
    ),
    "guarantees": (
        "UNWIND $rows AS row MATCH ()-[x:GUARANTEES {id: row.key}]->() "
        "RETURN row.key AS key, x.fp AS fp"
    ),
    "ownership": (
        "UNWIND $rows AS row MATCH (:Subject {id: row.a})-[x:OWNS]->"
        "(:Firm {id: row.b}) RETURN row.key AS key, x.fp AS fp"
    ),
}


def role_lookup(role: str) -> LiteralString:
    rtype = rel_type(ROLE_TYPES[role])
    return cast(
        LiteralString,
        "UNWIND $rows AS row MATCH (:Person {id: row.a})-"
        f"[x:{rtype}]->(:Firm {{id: row.b}}) RETURN row.key AS key, x.fp AS fp",
    )


# -- creates: rows whose key does not exist yet ---------------------------------------
_SET_NEW: LiteralString = "SET x = row.props, " + _PROV


CREATES: dict[str, LiteralString] = {
    "persons": "UNWIND $rows AS row CREATE (x:Subject:Person) " + _SET_NEW,
    "firms": "UNWIND $rows AS row CREATE (x:Subject:Firm) " + _SET_NEW,
    "ownership": (
        "UNWIND $rows AS row "
        "MATCH (o:Subject {id: row.props.owner_id}) MATCH (f:Firm {id: row.props.firm_id}) "
        "CREATE (o)-[x:OWNS]->(f) " + _SET_NEW
    ),
    "loans": (
        "UNWIND $rows AS row "
        "MATCH (lender:Subject {id: row.props.lender_id}) "
        "MATCH (borrower:Subject {id: row.props.borrower_id}) "
        "CREATE (x:Loan) " + _SET_NEW + " "
        "CREATE (lender)-[r1:LENT]->(x) SET r1 = {" + _REL_PROV + "} "
        "CREATE (borrower)-[r2:BORROWED]->(x) SET r2 = {" + _REL_PROV + "}"
    ),
    "guarantees": (
        "UNWIND $rows AS row "
        "MATCH (g:Subject {id: row.props.guarantor_id}) MATCH (l:Loan {id: row.props.loan_id}) "
        "CREATE (g)-[x:GUARANTEES]->(l) " + _SET_NEW
    ),
    "blacklist": (
        "UNWIND $rows AS row "
        "MATCH (s:Subject {id: row.props.subject_id}) "
        "CREATE (x:BlacklistEntry) " + _SET_NEW + " "
        "CREATE (s)-[r1:LISTED]->(x) SET r1 = {" + _REL_PROV + "}"
    ),
}


def role_create(role: str) -> LiteralString:
    rtype = rel_type(ROLE_TYPES[role])
    return cast(
        LiteralString,
        "UNWIND $rows AS row "
        "MATCH (p:Person {id: row.props.person_id}) MATCH (f:Firm {id: row.props.firm_id}) "
        f"CREATE (p)-[x:{rtype}]->(f) " + _SET_NEW,
    )


# Relationship files without an id: the two ends that identify a row.
_ENDS = {"ownership": ("owner_id", "firm_id"), "roles": ("person_id", "firm_id")}


def _statements(spec: FileSpec, role: str | None) -> tuple[LiteralString, ...]:
    if role is not None:
        return role_lookup(role), role_create(role), role_statement(role)
    return LOOKUPS[spec.name], CREATES[spec.name], STATEMENTS[spec.name]


def write_rows(
    gw: Gateway, spec: FileSpec, rows: list[dict[str, Any]], params: dict[str, Any]
) -> dict[str, int]:
    """Write one batch of :func:`to_params` rows; created / updated / unchanged counts."""
    totals = {"created": 0, "updated": 0, "unchanged": 0}
    if spec.name == "roles":
        groups: dict[str | None, list[dict[str, Any]]] = {}
        for r in rows:
            groups.setdefault(r["props"]["role"], []).append(r)
    else:
        groups = {None: rows}
    for role, group in sorted(groups.items(), key=lambda kv: kv[0] or ""):
        lookup, create, update = _statements(spec, role)
        ends = _ENDS.get(spec.name)
        probe = (
            [{"key": r["key"], "a": r["props"][ends[0]], "b": r["props"][ends[1]]} for r in group]
            if ends
            else [{"key": r["key"]} for r in group]
        )  # the lookup needs only the keys: do not send the whole rows twice

        def work(
            tx: Any,
            group: list[dict[str, Any]] = group,
            probe: list[Any] = probe,
            lookup: LiteralString = lookup,
            create: LiteralString = create,
            update: LiteralString = update,
        ) -> tuple[int, int]:
            # Lookup and writes in one transaction: if the driver retries it after a
            # commit whose answer was lost (a server restart), the lookup sees the rows
            # and nothing is created twice.
            existing = {r["key"]: r["fp"] for r in tx.run(lookup, rows=probe)}
            new = [r for r in group if r["key"] not in existing]
            changed = [r for r in group if r["key"] in existing and existing[r["key"]] != r["fp"]]
            if new:
                tx.run(create, rows=new, **params).consume()
            if changed:
                tx.run(update, rows=changed, **params).consume()
            return len(new), len(changed)

        n_new, n_changed = gw.write_tx(work)
        totals["created"] += n_new
        totals["updated"] += n_changed
        totals["unchanged"] += len(group) - n_new - n_changed
    return totals
