"""Schema creation and versioning against the real Neo4j."""

from __future__ import annotations

import time

import pytest

from credgraph.graph.errors import SchemaError
from credgraph.graph.gateway import Gateway
from credgraph.graph.schema import SCHEMA_VERSION, ensure_schema, require_schema, schema_version
from tests.conftest import wipe

pytestmark = pytest.mark.integration


def _schema(gw: Gateway) -> tuple[set[str], set[str]]:
    cons = {r["name"] for r in gw.read("SHOW CONSTRAINTS YIELD name RETURN name")}
    idx = {
        r["name"]
        for r in gw.read("SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP' RETURN name")
    }
    return cons, idx


def test_schema_on_empty_database_then_again(session_gateway: Gateway) -> None:
    gw = session_gateway
    wipe(gw, schema=True)
    assert schema_version(gw) == 0
    with pytest.raises(SchemaError, match="version 0"):
        require_schema(gw)
    first = ensure_schema(gw)
    assert first == {"from": 0, "to": SCHEMA_VERSION, "statements": first["statements"]}
    cons, idx = _schema(gw)
    assert {"subject_id", "loan_id", "blacklist_entry_id", "guarantee_id"} <= cons
    assert {"subject_names", "loan_status"} <= idx
    assert "subject_name_text" not in idx
    second = ensure_schema(gw)
    assert second["from"] == SCHEMA_VERSION
    assert _schema(gw) == (cons, idx)
    assert gw.read("MATCH (m:CredgraphSchema) RETURN count(m) AS n")[0]["n"] == 1
    assert require_schema(gw) == SCHEMA_VERSION


def test_unique_subject_ids_are_enforced(session_gateway: Gateway) -> None:
    gw = session_gateway
    ensure_schema(gw)
    wipe(gw)
    gw.write("CREATE (:Subject:Person {id: 'X1'})")
    from credgraph.graph.errors import DatabaseError

    with pytest.raises(DatabaseError, match="ConstraintValidationFailed"):
        gw.write("CREATE (:Subject:Firm {id: 'X1'})")
    wipe(gw)


def test_newer_schema_is_refused(session_gateway: Gateway) -> None:
    gw = session_gateway
    ensure_schema(gw)
    gw.write("MATCH (m:CredgraphSchema {id: 'schema'}) SET m.version = $v", v=SCHEMA_VERSION + 1)
    try:
        with pytest.raises(SchemaError, match=f"version {SCHEMA_VERSION + 1}"):
            ensure_schema(gw)
        with pytest.raises(SchemaError, match="upgrade credgraph"):
            require_schema(gw)
    finally:
        gw.write("MATCH (m:CredgraphSchema {id: 'schema'}) SET m.version = $v", v=SCHEMA_VERSION)


def test_dropped_constraint_is_repaired(session_gateway: Gateway) -> None:
    gw = session_gateway
    ensure_schema(gw)
    gw.run_schema("DROP CONSTRAINT loan_id")
    ensure_schema(gw)
    cons, _ = _schema(gw)
    assert "loan_id" in cons


def test_version_1_database_is_migrated(session_gateway: Gateway) -> None:
    """A database at version 1 loses the TEXT index and gains the full-text one."""
    gw = session_gateway
    ensure_schema(gw)
    wipe(gw)
    gw.run_schema("DROP INDEX subject_names")
    gw.run_schema("CREATE TEXT INDEX subject_name_text FOR (n:Subject) ON (n.name)")
    gw.write("MERGE (m:CredgraphSchema {id: 'schema'}) SET m.version = 1")
    assert ensure_schema(gw)["from"] == 1
    _, idx = _schema(gw)
    assert "subject_names" in idx and "subject_name_text" not in idx
    assert schema_version(gw) == SCHEMA_VERSION


def test_version_3_provenance_is_rewritten_to_references(session_gateway: Gateway) -> None:
    """Elements of a version-3 database carry provenance strings; version 4 keeps a
    reference to the Load record (load number, file index, row), which then answers."""
    gw = session_gateway
    ensure_schema(gw)
    wipe(gw)
    old = "{source: 's', source_file: $f, source_row: $r, loaded_at: datetime($at), load_id: $l}"
    gw.write(
        "CREATE (:Load {id: 'load-b', source: 's', started_at: datetime('2026-02-01T00:00Z'), "
        "outcome: 'completed'}) "
        "CREATE (:Load {id: 'load-a', source: 's', started_at: datetime('2026-01-01T00:00Z'), "
        "outcome: 'completed'})"
    )
    for sid, f, r, at, load in (
        ("P1", "persons.csv", 2, "2026-01-01T00:00Z", "load-a"),
        ("F1", "firms.csv", 3, "2026-02-01T00:00Z", "load-b"),
        ("F2", "firms.csv", 4, "2026-03-01T00:00Z", "load-gone"),  # its record was deleted
    ):
        gw.write(f"CREATE (x:Subject {{id: $id}}) SET x += {old}", id=sid, f=f, r=r, at=at, l=load)
    gw.write(
        f"MATCH (p {{id: 'P1'}}), (f {{id: 'F1'}}) CREATE (p)-[x:OWNS]->(f) SET x += {old}",
        f="ownership.csv",
        r=5,
        at="2026-01-01T00:00Z",
        l="load-a",
    )
    gw.write("MERGE (m:CredgraphSchema {id: 'schema'}) SET m.version = 3")
    assert ensure_schema(gw)["from"] == 3
    assert schema_version(gw) == SCHEMA_VERSION
    loads = gw.read("MATCH (l:Load) RETURN l.id AS id, l.num AS num, l.file_names AS files")
    got = {r["id"]: (r["num"], sorted(r["files"])) for r in loads}
    assert got["load-a"] == (1, ["ownership.csv", "persons.csv"])  # numbered by start
    assert got["load-b"] == (2, ["firms.csv"])
    assert got["load-gone"] == (3, ["firms.csv"])  # re-created from its elements
    rows = gw.read(
        "MATCH (x) WHERE x.id IN ['P1', 'F1', 'F2'] OR x:Subject "
        "OPTIONAL MATCH (x)-[o:OWNS]->() "
        "WITH x, o UNWIND [x, o] AS e WITH e WHERE e IS NOT NULL "
        "MATCH (ld:Load {num: e.load}) "
        "RETURN DISTINCT coalesce(e.id, 'OWNS') AS id, ld.id AS load, "
        "ld.file_names[e.file] AS file, e.row AS row, "
        "[k IN keys(e) WHERE k IN ['source', 'source_file', 'source_row', 'loaded_at', "
        "'load_id']] AS left ORDER BY id"
    )
    assert [(r["id"], r["load"], r["file"], r["row"], r["left"]) for r in rows] == [
        ("F1", "load-b", "firms.csv", 3, []),
        ("F2", "load-gone", "firms.csv", 4, []),
        ("OWNS", "load-a", "ownership.csv", 5, []),
        ("P1", "load-a", "persons.csv", 2, []),
    ]
    assert ensure_schema(gw)["from"] == SCHEMA_VERSION  # again: nothing left to do
    wipe(gw)


def _search(gw: Gateway, q: str) -> list[str]:
    """Ids the full-text index finds for ``q``, waiting (up to 10 s) for it to follow."""
    found: list[str] = []
    for _ in range(100):  # eventually consistent: the index follows within moments
        found = [
            r["id"]
            for r in gw.read(
                "CALL db.index.fulltext.queryNodes('subject_names', $q) YIELD node "
                "RETURN node.id AS id ORDER BY id",
                q=q,
            )
        ]
        if found:
            break
        time.sleep(0.1)
    return found


def test_names_and_aliases_are_searched_through_the_full_text_index(
    session_gateway: Gateway,
) -> None:
    gw = session_gateway
    ensure_schema(gw)
    wipe(gw)
    gw.write(
        "CREATE (:Subject:Firm {id: 'F1', name: 'Great Wall Holdings Ltd'}), "
        "(:Subject:Person {id: 'P1', name: 'Zhang Wei', aliases: ['张伟', 'Wei Zhang']}), "
        "(:Subject:Person {id: 'P2', name: 'Anna Walls'})"
    )
    assert _search(gw, "wall") == ["F1"]  # whole words, any case
    assert _search(gw, "WALLS") == ["P2"]
    assert _search(gw, "张伟") == ["P1"]  # an alias, in another script
    wipe(gw)
