"""A small hand-built graph for the query tests, written through the gateway.

Subjects: persons P1 (Alice), P2 (Bob), P3 (Carol); firms F1 (Acme), F2 (Beta),
F3 (Gamma), F4 (Delta), BANK.

    P1 -OWNS 0.6-> F1 -OWNS 0.5-> F2      P2 -OWNS 0.4-> F1, P2 -OWNS 0.5-> F2
    F3 -OWNS 1.0-> F4                     P3 -LEGAL_REPRESENTATIVE_OF-> F3
    P1 -DIRECTOR_OF-> F2
    loans (lender -> borrower): L1 BANK->F1 1000, L2 BANK->F2 500 defaulted,
      L3 F1->F3 200 (loaded disputed), L4 BANK->P3 300, L5 BANK->F3 100
    guarantees: G1 F2 for L1 (400), G2 F1 for L2 (250), G3 F4 for L1 (100),
      G4 P3 for L3 (50)
    blacklist: E1 F2 court_dishonest_debtor 2026-06-20; E2 P3 sanctions 2025-01-01;
      E3 P2 tax_violation 2026-06-25 (disputed, a Dispute node); E4 F4
      environmental 2020-01-01 delisted 2021-01-01; E5 P1 environmental 2026-06-29
    runs: run-1 (completed), run-2 (completed, current), run-3 (failed, latest);
      Score nodes for run-1 and run-2; circle 0 of run-2 = {F1, F2}; a stale
      circle of run-1 holds F1 too.
"""

from __future__ import annotations

from typing import Any

from credgraph.graph.gateway import Gateway

LOADED = "2026-06-01T00:00:00Z"

PERSONS = [
    {
        "id": "P1",
        "name": "Alice",
        "country": "CN",
        "birth_date": "1970-01-02",
        "national_id": "N-1",
    },
    {"id": "P2", "name": "Bob", "country": "CN", "birth_date": "1980-03-04", "national_id": "N-2"},
    {
        "id": "P3",
        "name": "Carol",
        "country": "HK",
        "birth_date": "1990-05-06",
        "national_id": "N-3",
    },
]
FIRMS = [
    {"id": "F1", "name": "Acme", "country": "CN", "status": "active", "equity": 1000.0},
    {"id": "F2", "name": "Beta", "country": "CN", "status": "active", "equity": 500.0},
    {"id": "F3", "name": "Gamma", "country": "CN", "status": "active", "equity": 800.0},
    {"id": "F4", "name": "Delta", "country": "CN", "status": "dissolved", "equity": 100.0},
    {"id": "BANK", "name": "Bank", "country": "CN", "status": "active", "equity": 100000.0},
]
OWNS = [
    ("P1", "F1", 0.6),
    ("F1", "F2", 0.5),
    ("P2", "F1", 0.4),
    ("P2", "F2", 0.5),
    ("F3", "F4", 1.0),
]
ROLES = [("P3", "LEGAL_REPRESENTATIVE_OF", "F3"), ("P1", "DIRECTOR_OF", "F2")]
LOANS = [
    # id, lender, borrower, amount, status, disputed
    ("L1", "BANK", "F1", 1000.0, "performing", False),
    ("L2", "BANK", "F2", 500.0, "defaulted", False),
    ("L3", "F1", "F3", 200.0, "performing", True),
    ("L4", "BANK", "P3", 300.0, "performing", False),
    ("L5", "BANK", "F3", 100.0, "performing", False),
]
GUARANTEES = [
    ("G1", "F2", "L1", 400.0),
    ("G2", "F1", "L2", 250.0),
    ("G3", "F4", "L1", 100.0),
    ("G4", "P3", "L3", 50.0),
]
ENTRIES = [
    # id, subject, list, listed_on, delisted_on, disputed
    ("E1", "F2", "court_dishonest_debtor", "2026-06-20", None, False),
    ("E2", "P3", "sanctions", "2025-01-01", None, False),
    ("E3", "P2", "tax_violation", "2026-06-25", None, True),
    ("E4", "F4", "environmental", "2020-01-01", "2021-01-01", False),
    ("E5", "P1", "environmental", "2026-06-29", None, False),
]
# subject: (trust run-1, trust run-2, pagerank, betweenness, kcore)
SCORES = {
    "P1": (90.0, 90.0, 0.05, 0.0, 1),
    "P2": (80.0, 70.0, 0.04, 0.0, 1),
    "P3": (50.0, 40.0, 0.06, 1.0, 1),
    "F1": (95.0, 85.0, 0.20, 4.0, 2),
    "F2": (60.0, 30.0, 0.15, 2.0, 2),
    "F3": (99.0, 99.0, 0.10, 3.0, 1),
    "F4": (70.0, 75.0, 0.01, 0.0, 1),
    "BANK": (100.0, 100.0, 0.30, 5.0, 2),
}


FILE_NAMES = [
    "persons.csv",
    "firms.csv",
    "ownership.csv",
    "roles.csv",
    "loans.csv",
    "guarantees.csv",
    "blacklist.csv",
]


def _prov(row: int, file: str) -> dict[str, Any]:
    """Provenance by reference (docs/data-model.md): load number, file index, row."""
    return {"load": 1, "file": FILE_NAMES.index(file), "row": row}


def build(gw: Gateway, *, runs: bool = True) -> None:
    """Write the graph (the database is expected empty); with ``runs``, the
    hand-made runs, scores and circles too (without, a real propagation run
    can score it)."""

    def tx(t: Any) -> None:
        t.run(
            "CREATE (:Load {id: 'load-1', num: 1, source: 'test', path: 'in', "
            "outcome: 'completed', file_names: $files, started_at: datetime($at)})",
            files=FILE_NAMES,
            at=LOADED,
        ).consume()
        for i, p in enumerate(PERSONS):
            t.run(
                "CREATE (s:Subject:Person) SET s = $p, s.birth_date = date($p.birth_date), "
                "s += $prov",
                p=p,
                prov=_prov(i + 2, "persons.csv"),
            ).consume()
        for i, f in enumerate(FIRMS):
            t.run(
                "CREATE (s:Subject:Firm) SET s = $f, s += $prov",
                f=f,
                prov=_prov(i + 2, "firms.csv"),
            ).consume()
        for i, (o, f, share) in enumerate(OWNS):
            t.run(
                "MATCH (o:Subject {id: $o}), (f:Firm {id: $f}) "
                "CREATE (o)-[r:OWNS {share: $share}]->(f) SET r += $prov",
                o=o,
                f=f,
                share=share,
                prov=_prov(i + 2, "ownership.csv"),
            ).consume()
        for i, (p, rel, f) in enumerate(ROLES):
            t.run(
                f"MATCH (p:Person {{id: $p}}), (f:Firm {{id: $f}}) CREATE (p)-[r:{rel}]->(f) "
                "SET r += $prov",
                p=p,
                f=f,
                prov=_prov(i + 2, "roles.csv"),
            ).consume()
        for i, (lid, lender, borrower, amount, status, disputed) in enumerate(LOANS):
            t.run(
                "MATCH (a:Subject {id: $lender}), (b:Subject {id: $borrower}) "
                "CREATE (l:Loan {id: $id, amount: $amount, status: $status, disputed: $disputed, "
                "currency: 'CNY', issued_on: date('2025-01-01')}) "
                "SET l += $prov "
                "CREATE (a)-[r1:LENT]->(l) SET r1 += $prov "
                "CREATE (b)-[r2:BORROWED]->(l) SET r2 += $prov",
                id=lid,
                lender=lender,
                borrower=borrower,
                amount=amount,
                status=status,
                disputed=disputed,
                prov=_prov(i + 2, "loans.csv"),
            ).consume()
        for i, (gid, g, loan, amount) in enumerate(GUARANTEES):
            t.run(
                "MATCH (g:Subject {id: $g}), (l:Loan {id: $loan}) "
                "CREATE (g)-[r:GUARANTEES {id: $id, amount: $amount, kind: 'joint'}]->(l) "
                "SET r += $prov",
                id=gid,
                g=g,
                loan=loan,
                amount=amount,
                prov=_prov(i + 2, "guarantees.csv"),
            ).consume()
        for i, (eid, s, lst, listed, delisted, disputed) in enumerate(ENTRIES):
            t.run(
                "MATCH (s:Subject {id: $s}) "
                "CREATE (e:BlacklistEntry {id: $id, list: $list, listed_on: date($listed), "
                "delisted_on: CASE WHEN $delisted IS NULL THEN null ELSE date($delisted) END, "
                "disputed: $disputed, authority: 'court', reason: 'test', severity: 0.8}) "
                "SET e += $prov "
                "CREATE (s)-[r:LISTED]->(e) SET r += $prov",
                id=eid,
                s=s,
                list=lst,
                listed=listed,
                delisted=delisted,
                disputed=disputed,
                prov=_prov(i + 2, "blacklist.csv"),
            ).consume()
        t.run(
            "MATCH (e:BlacklistEntry {id: 'E3'}) "
            "CREATE (:Dispute {id: 'd1', record: 'E3', action: 'opened', actor: 'inv', "
            "via: 'cli', reason: 'wrong person', at: datetime('2026-06-26T10:00:00Z')})"
            "-[:ABOUT]->(e)"
        ).consume()
        if not runs:
            return
        for n, (rid, status, current, started) in enumerate(
            [
                ("run-1", "completed", False, "2026-06-01T00:00:00Z"),
                ("run-2", "completed", True, "2026-06-15T00:00:00Z"),
                ("run-3", "failed", False, "2026-06-20T00:00:00Z"),
            ]
        ):
            t.run(
                "CREATE (:Run {id: $id, status: $status, current: $current, "
                "started_at: datetime($started), as_of: date(left($started, 10)), n: $n})",
                id=rid,
                status=status,
                current=current,
                started=started,
                n=n,
            ).consume()
        for sid, (t1, t2, pr, bc, kc) in SCORES.items():
            for run, trust in (("run-1", t1), ("run-2", t2)):
                t.run(
                    "MATCH (s:Subject {id: $id}) CREATE (:Score {run: $run, "
                    "subject: $id, kind: CASE WHEN s:Person THEN 'person' ELSE 'firm' END, "
                    "trust_score: $trust, total: 1 - $trust / 100.0, pagerank: $pr, "
                    "betweenness: $bc, kcore: $kc, "
                    "circle: CASE WHEN $id IN ['F1', 'F2'] THEN 0 ELSE -1 END})",
                    id=sid,
                    run=run,
                    trust=trust,
                    pr=pr,
                    bc=bc,
                    kc=kc,
                ).consume()
        for run, members, amount in (("run-2", ["F1", "F2"], 650.0), ("run-1", ["F1"], 1.0)):
            t.run(
                "CREATE (c:GuaranteeCircle {run: $run, number: 0, size: size($m), "
                "amount_inside: $amount, members: $m}) WITH c "
                "UNWIND $m AS id MATCH (s:Subject {id: id}) CREATE (s)-[:IN_CIRCLE]->(c)",
                run=run,
                m=members,
                amount=amount,
            ).consume()

    gw.write_tx(tx)


def snapshot(gw: Gateway) -> dict[str, Any]:
    """Everything a write could change: node and relationship counts by label and
    type, every property, the constraints and the indexes."""
    nodes = gw.read("MATCH (n) WHERE NOT n:AuditEvent RETURN labels(n) AS l, properties(n) AS p")
    rels = gw.read(
        "MATCH (a)-[r]->(b) RETURN a.id AS a, type(r) AS t, properties(r) AS p, b.id AS b"
    )
    return {
        "nodes": sorted(repr(sorted(x.items())) for x in nodes),
        "rels": sorted(repr(sorted(x.items())) for x in rels),
        "constraints": gw.read("SHOW CONSTRAINTS YIELD name RETURN name ORDER BY name"),
        "indexes": gw.read("SHOW INDEXES YIELD name, state RETURN name ORDER BY name"),
    }
