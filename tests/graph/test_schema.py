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
