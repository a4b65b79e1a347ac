"""Every named query against the small hand-built graph (tests/queries/graph.py),
with exact expected answers; and the header parser on bad headers."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from credgraph.graph.errors import ConfigError, UsageError
from credgraph.graph.gateway import Gateway
from credgraph.queries.library import check_params, library, parse
from credgraph.queries.runner import run_read
from tests.conftest import wipe
from tests.queries.graph import build

AS_OF = date(2026, 6, 30)


@pytest.fixture(scope="module")
def graph(session_gateway: Gateway) -> Gateway:
    wipe(session_gateway)
    build(session_gateway)
    return session_gateway


def run(gw: Gateway, name: str, **given: Any) -> list[dict[str, Any]]:
    q = library()[name]
    res = run_read(gw, q.cypher, check_params(q, given))
    assert res.columns == list(q.columns), "the header's columns are the query's"
    return res.rows


def test_the_library_holds_the_issues_list() -> None:
    assert set(library()) >= {
        "subject_profile",
        "guarantee_chains",
        "guarantee_circles",
        "mutual_guarantees",
        "lender_exposure",
        "ultimate_owners",
        "controlled_firms",
        "shortest_path",
        "score_drops",
        "newly_listed",
        "systemic_subjects",
        "contagion_paths",
        "disputed_records",
        "provenance",
    }


@pytest.mark.integration
def test_subject_profile(graph: Gateway) -> None:
    assert run(graph, "subject_profile", id="F2") == [
        {
            "id": "F2",
            "kind": "firm",
            "name": "Beta",
            "country": "CN",
            "status": "active",
            "trust_score": 30.0,
            "total_risk": pytest.approx(0.7),
            "run": "run-2",
            "loans_borrowed": 1,
            "loans_lent": 0,
            "guarantees_given": 1,
            "active_entries": 1,
            "circles": 1,
        }
    ]
    p3 = run(graph, "subject_profile", id="P3")[0]
    assert (p3["kind"], p3["active_entries"], p3["circles"], p3["loans_borrowed"]) == (
        "person",
        1,
        0,
        1,
    )
    assert "national_id" not in p3 and "birth_date" not in p3
    assert run(graph, "subject_profile", id="nobody") == []


@pytest.mark.integration
def test_guarantee_chains(graph: Gateway) -> None:
    assert run(graph, "guarantee_chains", id="F2", depth=2) == [
        {
            "direction": "guaranteed_by",
            "hops": 1,
            "subject": "F1",
            "name": "Acme",
            "chain": ["F2", "F1"],
            "guarantees": ["G2"],
        },
        {
            "direction": "guaranteed_by",
            "hops": 2,
            "subject": "F4",
            "name": "Delta",
            "chain": ["F2", "F1", "F4"],
            "guarantees": ["G2", "G3"],
        },
        {
            "direction": "guarantees",
            "hops": 1,
            "subject": "F1",
            "name": "Acme",
            "chain": ["F2", "F1"],
            "guarantees": ["G1"],
        },
    ]
    assert [r["chain"] for r in run(graph, "guarantee_chains", id="F4", depth=5)] == [
        ["F4", "F1"],
        ["F4", "F1", "F2"],
    ]
    assert [r["chain"] for r in run(graph, "guarantee_chains", id="F4", depth=1)] == [["F4", "F1"]]


@pytest.mark.integration
def test_guarantee_circles_of_the_current_run_only(graph: Gateway) -> None:
    assert run(graph, "guarantee_circles", id="F1") == [
        {"circle": 0, "size": 2, "amount_inside": 650.0, "members": ["F1", "F2"]}
    ]
    assert run(graph, "guarantee_circles", id="P1") == []


@pytest.mark.integration
def test_mutual_guarantees(graph: Gateway) -> None:
    pair = {
        "a": "F1",
        "a_name": "Acme",
        "b": "F2",
        "b_name": "Beta",
        "a_for_b": 250.0,
        "b_for_a": 400.0,
    }
    assert run(graph, "mutual_guarantees") == [pair]
    assert run(graph, "mutual_guarantees", id="F2") == [
        {
            "a": "F2",
            "a_name": "Beta",
            "b": "F1",
            "b_name": "Acme",
            "a_for_b": 400.0,
            "b_for_a": 250.0,
        }
    ]
    assert run(graph, "mutual_guarantees", id="F4") == []


@pytest.mark.integration
def test_guarantee_chains_and_pairs_count_guarantees_active_on_as_of(graph: Gateway) -> None:
    """G2 (F1 for F2's loan L2) ended in January: no chain through it, no mutual
    pair F1-F2 in June; in January both were there."""
    with graph.session() as s:
        s.run("MATCH ()-[g:GUARANTEES {id: 'G2'}]->() SET g.until = date('2026-01-31')").consume()
    try:
        chains = run(graph, "guarantee_chains", id="F2", depth=2, as_of=AS_OF)
        assert [(r["direction"], r["chain"]) for r in chains] == [("guarantees", ["F2", "F1"])]
        assert run(graph, "mutual_guarantees", as_of=AS_OF) == []
        assert run(graph, "mutual_guarantees", id="F2", as_of=AS_OF) == []
        assert len(run(graph, "mutual_guarantees", as_of=date(2026, 1, 15))) == 1
        then = run(graph, "guarantee_chains", id="F2", depth=2, as_of=date(2026, 1, 15))
        assert len(then) == 3
    finally:
        with graph.session() as s:
            s.run("MATCH ()-[g:GUARANTEES {id: 'G2'}]->() SET g.until = null").consume()


@pytest.mark.integration
def test_lender_exposure(graph: Gateway) -> None:
    f2 = ["defaulted:L2", "listed:court_dishonest_debtor"]
    assert run(graph, "lender_exposure", lender="BANK", as_of=AS_OF) == [
        {
            "route": "direct",
            "loan": "L2",
            "amount": 500.0,
            "counterparty": "F2",
            "name": "Beta",
            "adverse": f2,
        },
        {
            "route": "direct",
            "loan": "L4",
            "amount": 300.0,
            "counterparty": "P3",
            "name": "Carol",
            "adverse": ["listed:sanctions"],
        },
        {
            "route": "guarantee_given",
            "loan": "L1",
            "amount": 250.0,
            "counterparty": "F2",
            "name": "Beta",
            "adverse": f2,
        },
        {
            "route": "guarantor",
            "loan": "L1",
            "amount": 400.0,
            "counterparty": "F2",
            "name": "Beta",
            "adverse": f2,
        },
    ]
    # F1 lent L3 to F3, which is clean, but a guarantor of L3 (P3) is sanctioned
    assert run(graph, "lender_exposure", lender="F1", as_of=AS_OF) == [
        {
            "route": "guarantor",
            "loan": "L3",
            "amount": 50.0,
            "counterparty": "P3",
            "name": "Carol",
            "adverse": ["listed:sanctions"],
        }
    ]
    assert run(graph, "lender_exposure", lender="F3", as_of=AS_OF) == []


@pytest.mark.integration
def test_lender_exposure_counts_only_entries_active_on_as_of(graph: Gateway) -> None:
    """Active as docs/policy.md says: an entry listed after as_of does not count yet,
    and one delisted after as_of still counted on it (E1, F2: listed 2026-06-20)."""
    before = run(graph, "lender_exposure", lender="BANK", as_of=date(2026, 6, 1))
    f2 = {(r["route"], r["loan"]): r["adverse"] for r in before if r["counterparty"] == "F2"}
    assert f2 == {
        ("direct", "L2"): ["defaulted:L2"],
        ("guarantee_given", "L1"): ["defaulted:L2"],
        ("guarantor", "L1"): ["defaulted:L2"],
    }
    with graph.session() as s:
        s.run(
            "MATCH (e:BlacklistEntry {id: 'E1'}) SET e.delisted_on = date('2026-07-15')"
        ).consume()
    try:
        after = run(graph, "lender_exposure", lender="BANK", as_of=AS_OF)
        assert all(
            "listed:court_dishonest_debtor" in r["adverse"]
            for r in after
            if r["counterparty"] == "F2"
        )
        later = run(graph, "lender_exposure", lender="BANK", as_of=date(2026, 7, 15))
        assert all(r["adverse"] == ["defaulted:L2"] for r in later if r["counterparty"] == "F2")
    finally:
        with graph.session() as s:
            s.run("MATCH (e:BlacklistEntry {id: 'E1'}) SET e.delisted_on = null").consume()


@pytest.mark.integration
def test_lender_exposure_leaves_out_repaid_loans_and_ended_guarantees(graph: Gateway) -> None:
    """docs/policy.md: a loan carries exposure until repaid, a guarantee between
    since and until (L4 to P3 repaid in January, G1 of F2 on L1 ended in January)."""
    keys = {
        (r["route"], r["loan"], r["counterparty"])
        for r in run(graph, "lender_exposure", lender="BANK", as_of=AS_OF)
    }
    with graph.session() as s:
        s.run(
            "MATCH (l:Loan {id: 'L4'}) SET l.status = 'repaid', l.status_on = date('2026-01-31') "
            "WITH 1 AS one MATCH ()-[g:GUARANTEES {id: 'G1'}]->() "
            "SET g.until = date('2026-01-31')"
        ).consume()
    try:
        now = {
            (r["route"], r["loan"], r["counterparty"])
            for r in run(graph, "lender_exposure", lender="BANK", as_of=AS_OF)
        }
        assert now == keys - {("direct", "L4", "P3"), ("guarantor", "L1", "F2")}
        then = {
            (r["route"], r["loan"], r["counterparty"])
            for r in run(graph, "lender_exposure", lender="BANK", as_of=date(2026, 1, 15))
        }
        assert ("direct", "L4", "P3") in then and ("guarantor", "L1", "F2") in then
    finally:
        with graph.session() as s:
            s.run(
                "MATCH (l:Loan {id: 'L4'}) SET l.status = 'performing', l.status_on = null "
                "WITH 1 AS one MATCH ()-[g:GUARANTEES {id: 'G1'}]->() SET g.until = null"
            ).consume()


@pytest.mark.integration
def test_ultimate_owners(graph: Gateway) -> None:
    assert run(graph, "ultimate_owners", firm="F2") == [
        {"owner": "P2", "name": "Bob", "kind": "person", "share": 0.7, "chains": 2, "longest": 2},
        {"owner": "P1", "name": "Alice", "kind": "person", "share": 0.3, "chains": 1, "longest": 2},
    ]
    assert [r["owner"] for r in run(graph, "ultimate_owners", firm="F2", threshold=0.5)] == ["P2"]
    assert run(graph, "ultimate_owners", firm="F2", depth=1) == [
        {"owner": "P2", "name": "Bob", "kind": "person", "share": 0.5, "chains": 1, "longest": 1}
    ]
    # a firm nobody owns is an ultimate owner
    assert run(graph, "ultimate_owners", firm="F4") == [
        {"owner": "F3", "name": "Gamma", "kind": "firm", "share": 1.0, "chains": 1, "longest": 1}
    ]


@pytest.mark.integration
def test_controlled_firms(graph: Gateway) -> None:
    assert run(graph, "controlled_firms", id="P1") == [
        {
            "firm": "F1",
            "name": "Acme",
            "legal_representative": False,
            "share": 0.6,
            "trust_score": 85.0,
            "total_risk": pytest.approx(0.15),
        }
    ]
    assert [r["firm"] for r in run(graph, "controlled_firms", id="P2")] == ["F2"]
    assert [r["firm"] for r in run(graph, "controlled_firms", id="P2", threshold=0.3)] == [
        "F1",
        "F2",
    ]
    assert run(graph, "controlled_firms", id="P3") == [
        {
            "firm": "F3",
            "name": "Gamma",
            "legal_representative": True,
            "share": 0.0,
            "trust_score": 99.0,
            "total_risk": pytest.approx(0.01),
        }
    ]


@pytest.mark.integration
def test_ownership_chains_visit_each_firm_once(graph: Gateway) -> None:
    """A cross-holding (F1 owns 0.5 of F2, F2 0.2 of F1) adds no share through a
    chain that comes back to a firm it passed (P1 -> F1 -> F2 -> F1 is not a chain)."""
    with graph.session() as s:
        s.run(
            "MATCH (a:Firm {id: 'F2'}), (b:Firm {id: 'F1'}) CREATE (a)-[:OWNS {share: 0.2}]->(b)"
        ).consume()
    try:
        owners = run(graph, "ultimate_owners", firm="F1")
        assert [(r["owner"], r["share"], r["chains"]) for r in owners] == [
            ("P1", 0.6, 1),
            ("P2", 0.5, 2),
        ]
        firms = run(graph, "controlled_firms", id="P2", threshold=0.3)
        assert [(r["firm"], r["share"]) for r in firms] == [("F1", 0.5), ("F2", 0.7)]
    finally:
        with graph.session() as s:
            s.run("MATCH (:Firm {id: 'F2'})-[r:OWNS]->(:Firm {id: 'F1'}) DELETE r").consume()


@pytest.mark.integration
def test_ownership_and_control_that_ended_do_not_count(graph: Gateway) -> None:
    """An ownership or a legal representation whose `until` is past counts only as of
    a date it was active on (docs/policy.md: relationships count when active)."""
    with graph.session() as s:
        s.run(
            "MATCH (p:Person {id: 'P3'}), (f:Firm {id: 'F2'}), (g:Firm {id: 'F4'}) "
            "CREATE (p)-[:OWNS {share: 0.9, until: date('2020-01-01')}]->(f) "
            "CREATE (p)-[:LEGAL_REPRESENTATIVE_OF {since: date('2030-01-01')}]->(g)"
        ).consume()
    try:
        assert [r["owner"] for r in run(graph, "ultimate_owners", firm="F2")] == ["P2", "P1"]
        then = run(graph, "ultimate_owners", firm="F2", as_of=date(2019, 6, 1))
        assert [(r["owner"], r["share"]) for r in then] == [("P3", 0.9), ("P2", 0.7), ("P1", 0.3)]
        assert [r["firm"] for r in run(graph, "controlled_firms", id="P3")] == ["F3"]
        assert [
            (r["firm"], r["legal_representative"])
            for r in run(graph, "controlled_firms", id="P3", as_of=date(2019, 6, 1))
        ] == [("F2", False), ("F3", True)]
        later = run(graph, "controlled_firms", id="P3", as_of=date(2030, 1, 1))
        assert [(r["firm"], r["legal_representative"]) for r in later] == [
            ("F3", True),
            ("F4", True),
        ]
    finally:
        with graph.session() as s:
            s.run(
                "MATCH (:Person {id: 'P3'})-[r:OWNS|LEGAL_REPRESENTATIVE_OF]->(f:Firm) "
                "WHERE f.id IN ['F2', 'F4'] DELETE r"
            ).consume()


@pytest.mark.integration
def test_shortest_path(graph: Gateway) -> None:
    assert run(graph, "shortest_path", **{"from": "P3", "to": "P1"}) == [
        {
            "hops": 3,
            "nodes": ["P3", "L3", "F1", "P1"],
            "relationships": ["GUARANTEES >", "LENT <", "OWNS <"],
        }
    ]
    assert run(graph, "shortest_path", **{"from": "P3", "to": "P1", "max_hops": 2}) == []
    # the same subject at both ends: 0 hops (Neo4j's shortestPath refuses it)
    assert run(graph, "shortest_path", **{"from": "P3", "to": "P3"}) == [
        {"hops": 0, "nodes": ["P3"], "relationships": []}
    ]


@pytest.mark.integration
def test_score_drops_between_the_last_two_completed_runs(graph: Gateway) -> None:
    rows = run(graph, "score_drops")
    assert [(r["subject"], r["previous"], r["current"], r["drop"]) for r in rows] == [
        ("F2", 60.0, 30.0, 30.0),
        ("F1", 95.0, 85.0, 10.0),
        ("P2", 80.0, 70.0, 10.0),
        ("P3", 50.0, 40.0, 10.0),
    ]
    assert {(r["previous_run"], r["current_run"]) for r in rows} == {("run-1", "run-2")}
    assert [r["subject"] for r in run(graph, "score_drops", limit=2)] == ["F2", "F1"]


@pytest.mark.integration
def test_newly_listed_and_who_is_exposed(graph: Gateway) -> None:
    assert run(graph, "newly_listed", days=30, as_of=AS_OF) == [
        {
            "subject": "P1",
            "name": "Alice",
            "entry": "E5",
            "list": "environmental",
            "listed_on": "2026-06-29",
            "exposed": ["F1 (owned)"],
        },
        {
            "subject": "F2",
            "name": "Beta",
            "entry": "E1",
            "list": "court_dishonest_debtor",
            "listed_on": "2026-06-20",
            "exposed": ["BANK (lender)", "F1 (guarantor)", "F1 (owner)", "P2 (owner)"],
        },
    ]
    assert [r["entry"] for r in run(graph, "newly_listed", days=5, as_of=AS_OF)] == ["E5"]


@pytest.mark.integration
def test_newly_listed_exposes_only_ties_active_on_as_of(graph: Gateway) -> None:
    """P2 sold its share of F2 in January: not exposed as owner in June; nor is the
    BANK as lender once L2 is repaid."""
    with graph.session() as s:
        s.run(
            "MATCH (:Person {id: 'P2'})-[r:OWNS]->(:Firm {id: 'F2'}) "
            "SET r.until = date('2026-01-31')"
        ).consume()
        s.run("MATCH (l:Loan {id: 'L2'}) SET l.status = 'repaid'").consume()
    try:
        rows = run(graph, "newly_listed", days=30, as_of=AS_OF)
        assert [r["exposed"] for r in rows if r["subject"] == "F2"] == [["F1 (owner)"]]
    finally:
        with graph.session() as s:
            s.run(
                "MATCH (:Person {id: 'P2'})-[r:OWNS]->(:Firm {id: 'F2'}) SET r.until = null"
            ).consume()
            s.run("MATCH (l:Loan {id: 'L2'}) SET l.status = 'defaulted'").consume()


@pytest.mark.integration
def test_newly_listed_leaves_out_entries_delisted_or_expired_by_as_of(graph: Gateway) -> None:
    """E1 (listed 2026-06-20) delisted on 06-25 or expired on 06-28: not newly listed on
    06-30 (it is no longer listed); delisted after as_of, or expiring on as_of, it is."""
    try:
        for prop, day, shown in (
            ("delisted_on", "2026-06-25", False),
            ("delisted_on", "2026-07-02", True),
            ("expires_on", "2026-06-28", False),
            ("expires_on", "2026-06-30", True),
        ):
            with graph.session() as s:
                s.run(
                    "MATCH (e:BlacklistEntry {id: 'E1'}) "
                    f"SET e.delisted_on = null, e.expires_on = null SET e.{prop} = date($day)",
                    day=day,
                ).consume()
            rows = run(graph, "newly_listed", days=30, as_of=AS_OF)
            assert ("E1" in [r["entry"] for r in rows]) is shown, (prop, day)
    finally:
        with graph.session() as s:
            s.run(
                "MATCH (e:BlacklistEntry {id: 'E1'}) SET e.delisted_on = null, e.expires_on = null"
            ).consume()


@pytest.mark.integration
def test_subject_profile_counts_entries_active_today(graph: Gateway) -> None:
    """F2's one entry: delisted next year it is still active today; listed next year it
    is not yet; delisted yesterday it is not any more."""
    try:
        for listed, delisted, n in (
            ("2026-06-20", "duration({days: 365})", 1),
            ("duration({days: 365})", None, 0),
            ("2026-06-20", "duration({days: -1})", 0),
        ):

            def when(v: str | None) -> str:
                if v is None:
                    return "null"
                return f"date() + {v}" if v.startswith("duration") else f"date('{v}')"

            with graph.session() as s:
                s.run(
                    "MATCH (:Firm {id: 'F2'})-[:LISTED]->(e:BlacklistEntry) "
                    f"SET e.listed_on = {when(listed)}, e.delisted_on = {when(delisted)}"
                ).consume()
            got = run(graph, "subject_profile", id="F2")[0]["active_entries"]
            assert got == n, (listed, delisted)
    finally:
        with graph.session() as s:
            s.run(
                "MATCH (:Firm {id: 'F2'})-[:LISTED]->(e:BlacklistEntry) "
                "SET e.listed_on = date('2026-06-20'), e.delisted_on = null"
            ).consume()


@pytest.mark.integration
def test_systemic_subjects(graph: Gateway) -> None:
    rows = run(graph, "systemic_subjects", limit=3)
    assert [(r["subject"], r["pagerank"]) for r in rows] == [
        ("BANK", 0.3),
        ("F1", 0.2),
        ("F2", 0.15),
    ]
    assert rows[1]["circle"] == 0 and rows[0]["circle"] is None
    assert [r["subject"] for r in run(graph, "systemic_subjects", by="betweenness", limit=2)] == [
        "BANK",
        "F1",
    ]
    assert [r["subject"] for r in run(graph, "systemic_subjects", by="kcore", limit=4)] == [
        "BANK",
        "F1",
        "F2",
        "F3",
    ]


@pytest.mark.integration
def test_contagion_paths(graph: Gateway) -> None:
    """The default policy's channels from the listed subject (docs/policy.md): credit
    borrower -> lender / guarantor and firm -> owner; control owner or legal
    representative -> firm and firm -> legal representative / director."""

    def paths(entry: str, **more: Any) -> list[tuple[str, int, list[str]]]:
        rows = run(graph, "contagion_paths", entry=entry, as_of=AS_OF, **more)
        return [(r["channel"], r["hops"], r["path"]) for r in rows]

    assert paths("E1") == [
        ("control", 1, ["F2", "P1"]),  # F2's director
        ("control", 2, ["F2", "P1", "F1"]),  # ... who owns F1
        ("credit", 1, ["F2", "BANK"]),  # lender of L2
        ("credit", 1, ["F2", "F1"]),  # guarantor of L2 and owner: one path
        ("credit", 1, ["F2", "P2"]),  # owner
        ("credit", 2, ["F2", "F1", "BANK"]),
        ("credit", 2, ["F2", "F1", "F4"]),  # guarantor of L1
        ("credit", 2, ["F2", "F1", "P1"]),  # F1's owners
        ("credit", 2, ["F2", "F1", "P2"]),
        ("credit", 3, ["F2", "F1", "F4", "F3"]),  # F4's owner
    ]
    rows = run(graph, "contagion_paths", entry="E1", as_of=AS_OF, limit=1)
    assert rows == [
        {"channel": "control", "hops": 1, "target": "P1", "name": "Alice", "path": ["F2", "P1"]}
    ]
    # P3 lends nothing, guarantees L3 (risk flows from F3 to P3, not back)
    assert paths("E2") == [
        ("control", 1, ["P3", "F3"]),
        ("control", 2, ["P3", "F3", "F4"]),
        ("credit", 1, ["P3", "BANK"]),
    ]
    assert [p for _, _, p in paths("E2", depth=1)] == [["P3", "F3"], ["P3", "BANK"]]
    # P1 directs F2 (no channel from a director to the firm) and owns F1 (control)
    assert paths("E5") == [("control", 1, ["P1", "F1"]), ("control", 2, ["P1", "F1", "F2"])]


@pytest.mark.integration
def test_contagion_paths_follow_only_ties_active_on_as_of(graph: Gateway) -> None:
    """P3's legal representation of F3 ended in 2025, L4 was issued after as_of: on
    2026-06-30 neither carries P3's risk; a day before the end the representation did."""
    with graph.session() as s:
        s.run(
            "MATCH (:Person {id: 'P3'})-[r:LEGAL_REPRESENTATIVE_OF]->(:Firm {id: 'F3'}) "
            "SET r.until = date('2025-12-31')"
        ).consume()
        s.run(
            "MATCH (l:Loan {id: 'L4'}) SET l.old = l.issued_on, l.issued_on = date('2026-07-01')"
        ).consume()
    try:
        assert run(graph, "contagion_paths", entry="E2", as_of=AS_OF) == []
        rows = run(graph, "contagion_paths", entry="E2", as_of=date(2025, 12, 31), depth=1)
        assert [r["path"] for r in rows] == [["P3", "F3"]]
    finally:
        with graph.session() as s:
            s.run(
                "MATCH (:Person {id: 'P3'})-[r:LEGAL_REPRESENTATIVE_OF]->(:Firm {id: 'F3'}) "
                "SET r.until = null"
            ).consume()
            s.run("MATCH (l:Loan {id: 'L4'}) SET l.issued_on = l.old REMOVE l.old").consume()


@pytest.mark.integration
def test_disputed_records(graph: Gateway) -> None:
    # E3 was disputed through credgraph (a Dispute node); L3's flag alone is not listed
    assert run(graph, "disputed_records") == [
        {
            "record": "E3",
            "kind": "blacklist_entry",
            "subjects": ["P2"],
            "opened_at": "2026-06-26T10:00:00Z",
            "opened_by": "inv",
            "reason": "wrong person",
        },
    ]


@pytest.mark.integration
def test_provenance(graph: Gateway) -> None:
    common = {
        "source": "test",
        "loaded_at": "2026-06-01T00:00:00Z",
        "load_id": "load-1",
        "load_outcome": "completed",
    }
    # not the Load's path (where the input lay on the loading host): investigators run
    # this query through the API, and the load id names the load (least exposure)
    assert "load_path" not in library()["provenance"].columns
    assert run(graph, "provenance", id="L2") == [
        {"element": "node", "what": "Loan", "source_file": "loans.csv", "source_row": 3} | common,
        {
            "element": "relationship",
            "what": "BORROWED F2",
            "source_file": "loans.csv",
            "source_row": 3,
        }
        | common,
        {
            "element": "relationship",
            "what": "GUARANTEES F1",
            "source_file": "guarantees.csv",
            "source_row": 3,
        }
        | common,
        {
            "element": "relationship",
            "what": "LENT BANK",
            "source_file": "loans.csv",
            "source_row": 3,
        }
        | common,
    ]
    assert run(graph, "provenance", id="G2") == [
        {
            "element": "guarantee",
            "what": "F1 -> L2",
            "source_file": "guarantees.csv",
            "source_row": 3,
        }
        | common
    ]
    assert run(graph, "provenance", id="nothing") == []


@pytest.mark.integration
def test_the_documented_provenance_cypher_answers(graph: Gateway) -> None:
    """docs/data-model.md's "where did this come from" Cypher runs as printed, for a
    node and (with its documented first line) for a relationship, one hop to the Load."""
    doc = (Path(__file__).parents[2] / "docs" / "data-model.md").read_text(encoding="utf-8")
    section = doc[doc.index("## Provenance") :]
    block = section[
        section.index("```cypher") + len("```cypher") : section.index(
            "```\n", section.index("```cypher") + 9
        )
    ]
    assert "MATCH (x:Loan {id: $id})" in block and "path" not in block
    want = {
        "source": "test",
        "source_row": 3,
        "load_id": "load-1",
        "outcome": "completed",
    }
    (row,) = run_read(graph, block, {"id": "L2"}).rows
    assert {k: row[k] for k in want} == want and row["source_file"] == "loans.csv"
    assert row["loaded_at"].startswith("2026-06-01T00:00:00")
    rel = block.replace("MATCH (x:Loan {id: $id})", "MATCH ()-[x:GUARANTEES {id: $id}]->()")
    (row,) = run_read(graph, rel, {"id": "G2"}).rows
    assert {k: row[k] for k in want} == want and row["source_file"] == "guarantees.csv"


# ------------------------------------------------------------------ headers
def test_every_header_is_complete() -> None:
    for q in library().values():
        assert q.question.endswith("?") or "?" in q.question, q.name
        assert q.columns, q.name
        for p in q.params:
            assert p.help, f"{q.name}.{p.name} has no description"


def test_parameters_are_typed_and_checked() -> None:
    q = library()["ultimate_owners"]
    assert check_params(q, {"firm": "F1", "threshold": "0.5", "depth": "2"}) == {
        "firm": "F1",
        "threshold": 0.5,
        "depth": 2,
        "as_of": None,
    }
    with pytest.raises(UsageError, match="depth must be between 1 and 6"):
        check_params(q, {"firm": "F1", "depth": "7"})
    with pytest.raises(UsageError, match="depth must be an integer"):
        check_params(q, {"firm": "F1", "depth": "2; MATCH (n) DETACH DELETE n"})
    # null or empty is as if not given: the default (it once sent null: no rows)
    assert check_params(q, {"firm": "F1", "depth": None})["depth"] == q.param("depth").default  # type: ignore[union-attr]
    assert (
        check_params(q, {"firm": "F1", "threshold": ""})["threshold"]
        == q.param("threshold").default
    )  # type: ignore[union-attr]
    with pytest.raises(UsageError, match="firm is required"):
        check_params(q, {"firm": None})
    with pytest.raises(UsageError, match="needs the parameter firm"):
        check_params(q, {})
    with pytest.raises(UsageError, match="has no parameter 'owner'"):
        check_params(q, {"firm": "F1", "owner": "x"})
    s = library()["systemic_subjects"]
    with pytest.raises(UsageError, match="must be one of pagerank, betweenness, kcore"):
        check_params(s, {"by": "degree"})
    n = library()["newly_listed"]
    assert check_params(n, {"as_of": "2026-01-02"})["as_of"] == date(2026, 1, 2)
    assert check_params(n, {"as_of": "today"})["as_of"] is None
    with pytest.raises(UsageError, match="ISO date"):
        check_params(n, {"as_of": "02/01/2026"})


def test_bad_headers_are_refused_naming_the_file() -> None:
    with pytest.raises(ConfigError, match="no 'columns:' line"):
        parse("// name: x\n// question: what?\nRETURN 1")
    with pytest.raises(ConfigError, match="differ"):
        parse("// name: x\n// question: what?\n// columns: a\nRETURN $a AS a")
    with pytest.raises(ConfigError, match="line 3: cannot read the parameter"):
        parse("// name: x\n// question: what?\n// param: a number\n// columns: a\nRETURN $a AS a")
