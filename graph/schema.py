"""Schema creation and migration: constraints and indexes, versioned.

The database records the schema version it holds on a single
``(:CredgraphSchema {id: 'schema'})`` node. :func:`ensure_schema`:

- on an empty database creates every constraint and index (all statements
  are ``IF NOT EXISTS``, so running it twice changes nothing), then records
  :data:`SCHEMA_VERSION`;
- on a database at an older version drops what that version had and this one
  no longer uses (:data:`OBSOLETE`, ``IF EXISTS``), then creates what is
  missing; the same run repairs a current database whose indexes were dropped;
- on a database at version 3 or older also rewrites the provenance of every loaded
  element to a reference to its Load record (:data:`PROVENANCE_V4`);
- on a database at a newer version refuses with :class:`SchemaError`: this
  code would misread it.

Constraints and indexes exist before any MERGE: loaders call ensure_schema
first.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import LiteralString

from credgraph.graph.errors import SchemaError
from credgraph.graph.gateway import Gateway

SCHEMA_VERSION = 4

# The schema this code works with (docs/data-model.md). Every statement is
# idempotent, so running them again changes nothing and repairs a database whose
# constraints or indexes were dropped by hand.
STATEMENTS: tuple[LiteralString, ...] = (
    "CREATE CONSTRAINT subject_id IF NOT EXISTS FOR (n:Subject) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT person_id IF NOT EXISTS FOR (n:Person) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT firm_id IF NOT EXISTS FOR (n:Firm) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT loan_id IF NOT EXISTS FOR (n:Loan) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT blacklist_entry_id IF NOT EXISTS "
    "FOR (n:BlacklistEntry) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT guarantee_id IF NOT EXISTS FOR ()-[r:GUARANTEES]-() REQUIRE r.id IS UNIQUE",
    "CREATE CONSTRAINT load_id IF NOT EXISTS FOR (n:Load) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT run_id IF NOT EXISTS FOR (n:Run) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT score_key IF NOT EXISTS FOR (n:Score) REQUIRE (n.run, n.subject) IS UNIQUE",
    "CREATE CONSTRAINT circle_key IF NOT EXISTS "
    "FOR (n:GuaranteeCircle) REQUIRE (n.run, n.number) IS UNIQUE",
    "CREATE CONSTRAINT dispute_id IF NOT EXISTS FOR (n:Dispute) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT audit_id IF NOT EXISTS FOR (n:AuditEvent) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT api_key_id IF NOT EXISTS FOR (n:ApiKey) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT schema_id IF NOT EXISTS FOR (n:CredgraphSchema) REQUIRE n.id IS UNIQUE",
    # Version 3: the writer lease of loads and propagation runs (graph/lease.py).
    "CREATE CONSTRAINT lease_id IF NOT EXISTS FOR (n:Lease) REQUIRE n.id IS UNIQUE",
    # Version 4: provenance by reference; a loaded element's `load` is its Load's `num`.
    "CREATE CONSTRAINT load_num IF NOT EXISTS FOR (n:Load) REQUIRE n.num IS UNIQUE",
    "CREATE INDEX subject_name IF NOT EXISTS FOR (n:Subject) ON (n.name)",
    # Name search (tokens, case-insensitive, any script) over names and FtM aliases.
    # Eventually consistent: the Lucene writes run on a background thread, not in
    # the commit path, so a new subject is searchable a moment after its load commits.
    "CREATE FULLTEXT INDEX subject_names IF NOT EXISTS FOR (n:Subject) ON EACH [n.name, n.aliases] "
    "OPTIONS {indexConfig: {`fulltext.eventually_consistent`: true}}",
    "CREATE INDEX loan_status IF NOT EXISTS FOR (n:Loan) ON (n.status)",
    "CREATE INDEX blacklist_list IF NOT EXISTS FOR (n:BlacklistEntry) ON (n.list)",
    "CREATE INDEX score_run IF NOT EXISTS FOR (n:Score) ON (n.run)",
    "CREATE INDEX audit_at IF NOT EXISTS FOR (n:AuditEvent) ON (n.at)",
    "CREATE INDEX run_status IF NOT EXISTS FOR (n:Run) ON (n.status)",
    # version 4: a run's top-k reads (systemic_subjects, score_drops) seek these
    # instead of sorting every Score of the run
    "CREATE INDEX score_pagerank_rank IF NOT EXISTS FOR (n:Score) ON (n.run, n.pagerank_rank)",
    "CREATE INDEX score_betweenness_rank IF NOT EXISTS "
    "FOR (n:Score) ON (n.run, n.betweenness_rank)",
    "CREATE INDEX score_kcore_rank IF NOT EXISTS FOR (n:Score) ON (n.run, n.kcore_rank)",
    "CREATE INDEX score_drop_rank IF NOT EXISTS FOR (n:Score) ON (n.run, n.drop_rank)",
)

# What earlier versions created and this one no longer uses, removed first.
# Version 1 -> 2: the TEXT index on Subject.name (trigrams, updated in the commit
# path) doubled the server's CPU per new subject; `subject_names` replaces it.
OBSOLETE: tuple[LiteralString, ...] = ("DROP INDEX subject_name_text IF EXISTS",)


# Version 3 -> 4: provenance by reference (docs/data-model.md "Provenance"). Elements
# written before carry the strings `source`, `source_file`, `source_row`, `loaded_at`,
# `load_id`; these statements give every Load record a `num` and `file_names`
# (re-creating, with a note, a Load record an element names that no longer exists)
# and rewrite each element to `load`, `file`, `row`, in batches. Each statement only
# touches what is left to do, so a migration stopped half-way resumes.
_OLD = "x.load_id IS NOT NULL"
PROVENANCE_V4: tuple[LiteralString, ...] = (
    *(
        f"MATCH {pattern} WHERE {_OLD} "
        "AND NOT EXISTS { MATCH (l:Load) WHERE l.id = x.load_id } "
        "WITH x.load_id AS id, min(x.loaded_at) AS at, min(x.source) AS source "
        "MERGE (l:Load {id: id}) ON CREATE SET l.started_at = at, l.source = source, "
        "l.outcome = 'completed', l.notes = ['re-created by the schema migration to version 4: "
        "its elements named it, its record was gone']"
        for pattern in ("(x)", "()-[x]->()")
    ),
    "MATCH (o:Load) WITH coalesce(max(o.num), 0) AS base "
    "MATCH (l:Load) WHERE l.num IS NULL WITH base, l ORDER BY l.started_at, l.id "
    "WITH base, collect(l) AS ls UNWIND range(0, size(ls) - 1) AS i "
    "WITH ls[i] AS l, base + i + 1 AS n "
    "SET l.num = n, l.file_names = coalesce(l.file_names, [])",
    *(
        f"MATCH {pattern} WHERE {_OLD} CALL (x) {{ "
        "MATCH (l:Load {id: x.load_id}) "
        "WITH x, l, coalesce(x.source_file, '') AS f "
        "SET l.file_names = CASE WHEN f IN l.file_names THEN l.file_names "
        "ELSE l.file_names + f END "
        "WITH x, l, f "
        "SET x.load = l.num, x.row = x.source_row, "
        "x.file = [i IN range(0, size(l.file_names) - 1) WHERE l.file_names[i] = f][0] "
        "REMOVE x.source, x.source_file, x.source_row, x.loaded_at, x.load_id "
        "} IN TRANSACTIONS OF 5000 ROWS"
        for pattern in ("(x)", "()-[x]->()")
    ),
)


def schema_version(gw: Gateway) -> int:
    """The version the database holds: 0 for a database credgraph never touched."""
    rows = gw.read("MATCH (m:CredgraphSchema {id: 'schema'}) RETURN m.version AS version")
    return int(rows[0]["version"]) if rows else 0


def ensure_schema(gw: Gateway, *, log: Callable[[str], None] | None = None) -> dict[str, int]:
    """Create or migrate the schema to :data:`SCHEMA_VERSION`; idempotent."""
    current = schema_version(gw)
    if current > SCHEMA_VERSION:
        raise SchemaError(
            f"the database holds credgraph schema version {current}, "
            f"but this credgraph knows only up to version {SCHEMA_VERSION}",
            hint="upgrade credgraph, or point NEO4J_URI / CREDGRAPH_HOME at another database",
        )
    # Obsolete parts first (IF EXISTS), then the current schema (IF NOT EXISTS):
    # this migrates an older database and repairs a current one alike.
    statements = (*OBSOLETE, *STATEMENTS)
    for statement in statements:
        gw.run_schema(statement)
    if log:
        log(f"schema version {SCHEMA_VERSION}: {len(statements)} statements (from {current})")
    gw.run_schema("CALL db.awaitIndexes(300)")
    if 0 < current < 4:
        for statement in PROVENANCE_V4:
            gw.run_schema(statement)
        if log:
            log("provenance rewritten to references (schema version 4)")
    gw.write(
        "MERGE (m:CredgraphSchema {id: 'schema'}) SET m.version = $version, m.updated_at = $now",
        version=SCHEMA_VERSION,
        now=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return {"from": current, "to": SCHEMA_VERSION, "statements": len(statements)}


def require_schema(gw: Gateway) -> int:
    """Refuse to work on a database whose schema is missing or from a newer credgraph."""
    current = schema_version(gw)
    if current > SCHEMA_VERSION:
        ensure_schema(gw)  # raises the clear error
    if current < SCHEMA_VERSION:
        raise SchemaError(
            f"the database holds credgraph schema version {current}, this code needs "
            f"{SCHEMA_VERSION}",
            hint="run `credgraph schema` (or any `credgraph load`) to create or migrate it",
        )
    return current
