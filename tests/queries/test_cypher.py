"""Ad-hoc Cypher stays read-only: every kind of write, schema change, user
administration (Community has users, no roles), CSV load, batched transaction and unknown procedure is refused
and leaves the graph, the schema and the users as they were; a slow query stops
at its time limit; a syntax error is one line; every query is audited."""

from __future__ import annotations

import json
from typing import Any

import pytest

from credgraph.graph.audit import audit_events
from credgraph.graph.errors import UsageError
from credgraph.graph.gateway import Gateway
from credgraph.queries.runner import (
    QueryRefused,
    QueryTimeout,
    blank_literals,
    check_text,
    run_adhoc,
)
from credgraph.services.caller import Caller
from credgraph.services.queries import run_cypher, run_named
from tests.conftest import wipe
from tests.queries.graph import build, snapshot

pytestmark = pytest.mark.integration

WRITES = [
    "CREATE (n:Subject {id: 'X'})",
    "create (n:Subject {id: 'X'}) return n",
    "MERGE (n:Subject {id: 'X'}) RETURN n",
    "MATCH (n:Subject {id: 'F1'}) SET n.name = 'changed'",
    "MATCH (n:Subject {id: 'F1'}) REMOVE n.name",
    "MATCH (n:Subject {id: 'F1'}) SET n:Hacked",
    "MATCH (n:Loan {id: 'L1'}) DETACH DELETE n",
    "MATCH ()-[r:OWNS]->() DELETE r",
    "MATCH (n:Subject) FOREACH (x IN [1] | CREATE (:Subject {id: 'X' + n.id}))",
    "MATCH (n:Subject) CALL (n) { CREATE (m:Copy) } RETURN count(*)",
    "/* only a comment */ MATCH (n:Subject {id: 'F1'}) SET n.x = 1 RETURN n // and here",
    "CREATE INDEX sneaky FOR (n:Subject) ON (n.country)",
    "CREATE CONSTRAINT sneaky FOR (n:Loan) REQUIRE n.amount IS UNIQUE",
    "DROP CONSTRAINT subject_id IF EXISTS",
    "DROP INDEX subject_name IF EXISTS",
    "CREATE FULLTEXT INDEX sneaky FOR (n:Loan) ON EACH [n.status]",
    "CREATE USER mallory SET PASSWORD 'secret-secret'",
    "DROP USER neo4j",
    "ALTER USER neo4j SET PASSWORD 'changed-changed'",
    "CREATE ROLE sneaky",
    "GRANT ROLE admin TO mallory",
    "CREATE DATABASE other",
    "LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row",
    "load csv with headers from 'https://example.com/x.csv' AS row RETURN row",
    "MATCH (n:Subject) CALL (n) { SET n.x = 1 } IN TRANSACTIONS OF 10 ROWS",
    "MATCH (n:Subject) CALL (n) { RETURN n.id AS i } IN TRANSACTIONS RETURN i",
    "CALL db.createLabel('Sneaky')",
    "CALL db.clearQueryCaches()",
    "CALL dbms.security.createUser('mallory', 'secret-secret', false)",
    "CALL `db`.`createProperty`('sneaky')",
    "CALL apoc.cypher.runWrite('CREATE (n)', {})",
    "CALL tx.setMetaData({a: 1})",
    "USE system SHOW USERS",
    "PROFILE MATCH (n) RETURN n",
    "TERMINATE TRANSACTIONS 'neo4j-transaction-1'",
    "SHOW TRANSACTIONS YIELD transactionId TERMINATE TRANSACTIONS transactionId",
    "SHOW TRANSACTIONS",
    "show settings yield name return name",
    "SHOW USERS",
    "SHOW DATABASES",
    "STOP DATABASE neo4j",
]


@pytest.fixture(scope="module")
def graph(session_gateway: Gateway) -> Gateway:
    wipe(session_gateway)
    build(session_gateway)
    return session_gateway


def users(gw: Gateway) -> list[Any]:
    with gw.driver.session(database="system") as s:
        return sorted(r["user"] for r in s.run("SHOW USERS YIELD user RETURN user"))


CALLER = Caller(actor="tester", via="cli", reason="test")


def test_writes_schema_changes_and_administration_are_refused(graph: Gateway) -> None:
    before = snapshot(graph)
    before_users = users(graph)
    for text in WRITES:
        with pytest.raises(UsageError) as info:
            run_adhoc(graph, text)
        assert "\n" not in info.value.message, text
    assert snapshot(graph) == before
    assert users(graph) == before_users == ["neo4j"]


def test_refusals_say_why(graph: Gateway) -> None:
    cases = {
        "CREATE (n:X)": "writes",
        "MATCH (n) SET n.x = 1 RETURN n": "reads and writes",
        "CREATE INDEX i FOR (n:X) ON (n.y)": "schema",
        "LOAD CSV FROM 'file:///x' AS r RETURN r": "LOAD CSV",
        "MATCH (n) CALL (n) { RETURN 1 AS one } IN TRANSACTIONS RETURN one": "IN TRANSACTIONS",
        "CALL db.clearQueryCaches()": "db.clearQueryCaches is not on the allow-list",
    }
    for text, words in cases.items():
        with pytest.raises(QueryRefused, match=words):
            run_adhoc(graph, text)


def test_reads_run_and_are_capped(graph: Gateway) -> None:
    res = run_adhoc(graph, "MATCH (s:Subject) RETURN s.id AS id ORDER BY id")
    assert [r["id"] for r in res.rows] == ["BANK", "F1", "F2", "F3", "F4", "P1", "P2", "P3"]
    assert not res.truncated
    cut = run_adhoc(graph, "MATCH (s:Subject) RETURN s.id AS id ORDER BY id;", max_rows=3)
    assert ([r["id"] for r in cut.rows], cut.truncated) == (["BANK", "F1", "F2"], True)
    # words inside strings and comments are not commands; allowed procedures run
    assert run_adhoc(graph, "RETURN 'CREATE (n) LOAD CSV CALL db.x()' AS s // DELETE").rows == [
        {"s": "CREATE (n) LOAD CSV CALL db.x()"}
    ]
    indexes = run_adhoc(graph, "SHOW INDEXES YIELD name RETURN count(*) AS n")
    assert indexes.rows[0]["n"] > 0
    labels = run_adhoc(graph, "CALL db.labels() YIELD label RETURN label ORDER BY label")
    assert {"Subject", "Loan"} <= {r["label"] for r in labels.rows}
    named = run_adhoc(graph, "MATCH (s:Subject {id: $id}) RETURN s.name AS n", {"id": "F1"})
    assert named.rows == [{"n": "Acme"}]
    nodes = run_adhoc(graph, "MATCH p = (:Person {id: 'P1'})-[:OWNS]->(f) RETURN f, p")
    assert nodes.rows[0]["f"]["_labels"] == ["Firm", "Subject"]
    assert nodes.rows[0]["f"]["load"] == 1  # provenance by reference
    loads = run_adhoc(graph, "MATCH (l:Load) RETURN l")
    assert loads.rows[0]["l"]["started_at"] == "2026-06-01T00:00:00+00:00"
    assert [x.get("id", x.get("_type")) for x in nodes.rows[0]["p"]] == ["P1", "OWNS", "F1"]


def test_a_slow_query_stops_at_the_time_limit(graph: Gateway) -> None:
    before = snapshot(graph)
    with pytest.raises(QueryTimeout, match="time limit"):
        run_adhoc(
            graph,
            "UNWIND range(1, 2000000000) AS x WITH x WHERE x % 7919 = 7918.5 RETURN count(x)",
            timeout=1.0,
        )
    assert snapshot(graph) == before


def test_a_syntax_error_is_one_line(graph: Gateway) -> None:
    with pytest.raises(UsageError) as info:
        run_adhoc(graph, "MATCH (n:Subject RETURN n")
    assert info.value.message.startswith("syntax error: ")
    assert "\n" not in info.value.message


def test_text_checks_without_a_database() -> None:
    assert blank_literals("RETURN 'a // b' AS `x y` // c") == "RETURN '' AS x y  "
    check_text("MATCH (n) RETURN n.id AS call_me, 'LOAD CSV' AS s")
    with pytest.raises(QueryRefused):
        check_text("call   DB.CREATELABEL('x')")
    with pytest.raises(UsageError, match="empty"):
        check_text("  ")


def test_every_query_is_audited_refusals_too(graph: Gateway) -> None:
    run_cypher(graph, "MATCH (n:Subject) RETURN count(n) AS n", caller=CALLER)
    with pytest.raises(QueryRefused):
        run_cypher(graph, "CREATE (n:X)", caller=CALLER)
    res = run_named(graph, "ultimate_owners", {"firm": "F2", "depth": "3"}, caller=CALLER)
    # whom the rows showed is on the record too (the owners, not only the firm asked)
    owners = list(dict.fromkeys(r["owner"] for r in res.rows))
    assert owners
    disputed = run_named(graph, "disputed_records", {}, caller=CALLER)
    named = list(dict.fromkeys(s for r in disputed.rows for s in r["subjects"]))
    events = audit_events(graph, actor="tester")
    got = graph.read(
        "MATCH (e:AuditEvent {actor: 'tester'}) RETURN e.action AS action, e.subject AS subject, "
        "e.detail AS detail, e.reason AS reason, e.via AS via ORDER BY e.at, e.action"
    )
    assert len(events) == 4
    (owned,) = [json.loads(g["detail"]) for g in got if g["subject"] == "F2"]
    assert sorted((g["action"], g["subject"], g["detail"]) for g in got) == [
        ("cypher", "*", "CREATE (n:X)"),
        ("cypher", "*", "MATCH (n:Subject) RETURN count(n) AS n"),
        ("query:disputed_records", "*", json.dumps({"shown": named})),
        ("query:ultimate_owners", "F2", json.dumps(owned, sort_keys=True)),
    ]
    assert owned.pop("shown")[: len(owners)] == owners  # the owners, in row order, first
    assert owned == {"as_of": None, "depth": 3, "firm": "F2", "threshold": 0.25}
    assert {(g["reason"], g["via"]) for g in got} == {("test", "cli")}
